"""Yearly overrides of the day-off rules: the official swaps and extra days off.

An overrides file is JSON::

    {
      "description": "free text",
      "years": {
        "2026": {
          "days_off":     [{"date": "2026-08-31", "name": "Nghỉ hoán đổi ...", "source": "..."}],
          "working_days": [{"date": "2026-08-22", "name": "Làm bù cho ...",   "source": "..."}]
        }
      }
    }

``days_off`` are off whatever the weekday; ``working_days`` (swapped Saturdays) are worked
whatever the weekday or the holiday rules say. Each entry's date lies in its year, its name
is the Vietnamese name of the day and ``source`` says what the entry rests on. When several
files are merged, a later file wins date by date.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

_ENTRY_KEYS = {"date", "name", "source"}
_YEAR_KEYS = {"days_off", "working_days"}


class OverridesError(ValueError):
    pass


@dataclass(frozen=True)
class CalendarOverrides:
    """Extra days off and worked days, each mapped to its name."""

    days_off: Mapping[date, str] = field(default_factory=dict)
    working_days: Mapping[date, str] = field(default_factory=dict)

    def merged_with(self, later: CalendarOverrides) -> CalendarOverrides:
        days_off = {d: n for d, n in self.days_off.items() if d not in later.working_days}
        working_days = {d: n for d, n in self.working_days.items() if d not in later.days_off}
        return CalendarOverrides({**days_off, **later.days_off}, {**working_days, **later.working_days})


def parse_overrides(document: Any, origin: str = "overrides") -> CalendarOverrides:
    if not isinstance(document, dict) or not isinstance(document.get("years"), dict):
        raise OverridesError(f'{origin}: expected an object with a "years" object')
    found: dict[str, dict[date, str]] = {"days_off": {}, "working_days": {}}
    for year, lists in document["years"].items():
        where = f"{origin}: years.{year}"
        if not (isinstance(year, str) and year.isdigit() and len(year) == 4):
            raise OverridesError(f"{where}: a year is four digits")
        if not isinstance(lists, dict) or not set(lists) <= _YEAR_KEYS:
            raise OverridesError(f"{where}: expected an object with only {sorted(_YEAR_KEYS)}")
        for kind, entries in lists.items():
            if not isinstance(entries, list):
                raise OverridesError(f"{where}.{kind}: expected a list")
            for position, entry in enumerate(entries):
                day, name = _entry(entry, int(year), f"{where}.{kind}[{position}]")
                found[kind][day] = name
    both = found["days_off"].keys() & found["working_days"].keys()
    if both:
        raise OverridesError(f"{origin}: dates both off and worked: {sorted(both)}")
    return CalendarOverrides(found["days_off"], found["working_days"])


def load_overrides(path: Path) -> CalendarOverrides:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise OverridesError(f"{path}: {error}") from error
    return parse_overrides(document, str(path))


def _entry(entry: Any, year: int, where: str) -> tuple[date, str]:
    if not isinstance(entry, dict) or set(entry) != _ENTRY_KEYS:
        raise OverridesError(f"{where}: expected an object with exactly {sorted(_ENTRY_KEYS)}")
    if not all(isinstance(entry[key], str) and entry[key].strip() for key in _ENTRY_KEYS):
        raise OverridesError(f"{where}: date, name and source are non-empty strings")
    try:
        day = date.fromisoformat(entry["date"])
    except ValueError as error:
        raise OverridesError(f"{where}: {error}") from error
    if day.year != year:
        raise OverridesError(f"{where}: {day} is not in {year}")
    return day, entry["name"]
