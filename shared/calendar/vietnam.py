"""The Vietnamese civil-service calendar: the ``holidays`` package's public holidays (fixed and
lunar, with its days off in lieu) overridden by the yearly official lists shipped in
``data/vn-overrides.json`` and, on top, by a catalogue's own overrides file."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import time
from importlib.resources import files
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays

from shared.calendar.days_off import DaysOff
from shared.calendar.overrides import CalendarOverrides, load_overrides, parse_overrides
from shared.calendar.schedule import DEFAULT_PERIODS, Period
from shared.calendar.working_calendar import DEFAULT_YEARS, INTAKE_CUTOFF, VIETNAM_TZ, WorkingCalendar

SHIPPED_OVERRIDES = "vn-overrides.json"


def shipped_overrides() -> CalendarOverrides:
    text = files("shared.calendar.data").joinpath(SHIPPED_OVERRIDES).read_text(encoding="utf-8")
    return parse_overrides(json.loads(text), SHIPPED_OVERRIDES)


def vietnam_days_off(overrides: CalendarOverrides | None = None) -> DaysOff:
    overrides = overrides or shipped_overrides()
    return DaysOff(
        holidays=holidays.country_holidays("VN", language="vi"),
        extra_days_off=frozenset(overrides.days_off),
        working_days=frozenset(overrides.working_days),
    )


def vietnam_calendar(
    overrides: Path | None = None,
    *,
    periods: Sequence[Period] = DEFAULT_PERIODS,
    tz: ZoneInfo = VIETNAM_TZ,
    hours_per_day: float = 8,
    intake_cutoff: time = INTAKE_CUTOFF,
    years: tuple[int, int] = DEFAULT_YEARS,
) -> WorkingCalendar:
    """The Vietnamese calendar; ``overrides`` is a further file (a catalogue's), merged over
    the shipped one date by date."""
    merged = shipped_overrides()
    if overrides is not None:
        merged = merged.merged_with(load_overrides(overrides))
    return WorkingCalendar(
        vietnam_days_off(merged),
        periods=periods,
        tz=tz,
        hours_per_day=hours_per_day,
        intake_cutoff=intake_cutoff,
        years=years,
    )
