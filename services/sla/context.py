"""What sla's handlers, sweep and API share at run time: the calendar, the catalogue's unit names, the
timer policy and how outcomes are decided."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import Request

from services.sla.clock import OutcomeBy
from services.sla.periods import Window
from services.sla.settings import SlaSettings
from services.sla.timers import TimerPolicy
from shared.calendar import WorkingCalendar
from shared.catalog import Catalog, default_catalog_dir, load_catalog

STATE_KEY = "sla"


@dataclass(frozen=True)
class Sla:
    catalog: Catalog
    calendar: WorkingCalendar
    policy: TimerPolicy
    outcome_by: OutcomeBy
    quarter_window: Window

    @classmethod
    def load(cls, settings: SlaSettings) -> Sla:
        catalog = load_catalog(Path(settings.catalog_dir) if settings.catalog_dir else default_catalog_dir())
        return cls(
            catalog,
            settings.working_calendar(catalog.calendar_overrides),
            TimerPolicy(settings.step_notice_working_minutes, settings.dossier_notice_working_minutes),
            settings.outcome_by,
            settings.quarter_window,
        )

    def unit_name(self, code: str | None) -> str:
        if code is None:
            return ""
        try:
            return self.catalog.unit(code).name
        except KeyError:
            return code


def sla_of(request: Request) -> Sla:
    sla: Sla = request.app.state.runtime.state[STATE_KEY]
    return sla
