"""What routing's handlers and API share at run time: the catalogue and the working calendar."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import Request

from services.routing.settings import RoutingSettings
from shared.calendar import WorkingCalendar, vietnam_calendar
from shared.catalog import Catalog, default_catalog_dir, load_catalog

STATE_KEY = "routing"


@dataclass(frozen=True)
class Routing:
    catalog: Catalog
    calendar: WorkingCalendar

    @classmethod
    def load(cls, settings: RoutingSettings) -> Routing:
        """The catalogue as intake loads it, and the calendar with its overrides."""
        catalog = load_catalog(Path(settings.catalog_dir) if settings.catalog_dir else default_catalog_dir())
        return cls(catalog, vietnam_calendar(catalog.calendar_overrides))

    def unit_name(self, code: str | None) -> str | None:
        if code is None:
            return None
        try:
            return self.catalog.unit(code).name
        except KeyError:
            return None


def routing_of(request: Request) -> Routing:
    routing: Routing = request.app.state.runtime.state[STATE_KEY]
    return routing
