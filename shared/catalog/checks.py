"""Checks across records: references between units, units within their maps' dates, exactly one sector
unit of each level per commune, levels procedures use."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from itertools import combinations

from shared.catalog.catalog import Catalog
from shared.catalog.errors import Problem
from shared.catalog.models import SECTOR_LEVELS, Manifest, Procedure, Unit, UnitLevel, UnitMap, Validity
from shared.catalog.schema import Entry

Span = tuple[date, date]  # [first day, first day after); date.min and date.max stand for an open end

_PARENT_LEVELS = {
    UnitLevel.COMMUNE: {UnitLevel.DISTRICT, UnitLevel.PROVINCE},
    UnitLevel.DISTRICT: {UnitLevel.PROVINCE},
}


def duplicate_codes(entries: Sequence[Entry[Unit]] | Sequence[Entry[Procedure]], what: str) -> list[Problem]:
    first: dict[str, str] = {}
    problems = []
    for entry in entries:
        code = entry.record.code
        if code in first:
            problems.append(entry.problem(f"duplicate {what} code {code} (first at {first[code]})", "code"))
        else:
            first[code] = entry.where
    return problems


def unit_references(manifest: Manifest, units: Sequence[Entry[Unit]]) -> list[Problem]:
    by_code = {e.record.code: e.record for e in units}
    problems = []
    for entry in units:
        unit = entry.record
        for i, map_ in enumerate(unit.maps):
            if map_ not in manifest.maps:
                problems.append(entry.problem(f"{unit.code}: map {map_} is not declared in catalog.yaml", "maps", i))
        if unit.level is UnitLevel.DISTRICT and UnitMap.TWO_LEVEL in unit.maps:
            problems.append(entry.problem(f"{unit.code}: the two-level map has no districts", "maps"))
        problems += _parent(entry, by_code)
        for i, code in enumerate(unit.serves):
            served = by_code.get(code)
            if served is None:
                problems.append(entry.problem(f"{unit.code}: serves unknown unit {code}", "serves", i))
            elif served.level is not UnitLevel.COMMUNE:
                problems.append(
                    entry.problem(f"{unit.code}: serves {code}, a {served.level}, not a commune", "serves", i)
                )
            elif not set(served.maps) & set(unit.maps):
                problems.append(entry.problem(f"{unit.code}: serves {code}, which is in none of its maps", "serves", i))
    return problems


def unit_periods(manifest: Manifest, units: Sequence[Entry[Unit]]) -> list[Problem]:
    """A unit holds only on days when one of its maps holds (maps not declared are reported elsewhere)."""
    problems = []
    for entry in units:
        unit = entry.record
        declared = [map_ for map_ in unit.maps if map_ in manifest.maps]
        if not declared:
            continue
        start, end = held = _span(unit)
        for gap in _uncovered(held, [_span(manifest.maps[map_]) for map_ in declared]):
            at_start, at_end = gap[0] == start, gap[1] == end
            field = "maps" if at_start == at_end else "valid_from" if at_start else "valid_to"
            names = ", ".join(declared)
            message = f"{unit.code}: holds {_days(gap)}, when none of its maps ({names}) does"
            problems.append(entry.problem(message, field))
    return problems


def _parent(entry: Entry[Unit], by_code: dict[str, Unit]) -> list[Problem]:
    unit = entry.record
    if unit.parent is None:
        return []
    parent = by_code.get(unit.parent)
    if parent is None:
        return [entry.problem(f"{unit.code}: unknown parent {unit.parent}", "parent")]
    problems = []
    allowed = _PARENT_LEVELS.get(unit.level)
    if allowed is not None and parent.level not in allowed:
        wanted = " or ".join(sorted(allowed))
        problems.append(
            entry.problem(f"{unit.code}: a {unit.level}'s parent is a {wanted}, not a {parent.level}", "parent")
        )
    for map_ in unit.maps:
        if map_ not in parent.maps:
            problems.append(entry.problem(f"{unit.code}: parent {parent.code} is not in the {map_} map", "parent"))
    seen = {unit.code}
    ancestor: Unit | None = parent
    while ancestor is not None:
        if ancestor.code in seen:
            problems.append(entry.problem(f"{unit.code}: the parent chain loops at {ancestor.code}", "parent"))
            break
        seen.add(ancestor.code)
        ancestor = by_code.get(ancestor.parent) if ancestor.parent else None
    return problems


def sector_coverage(catalog: Catalog, units: Sequence[Entry[Unit]]) -> list[Problem]:
    """For each sector level a map has, each commune of the map is served by exactly one unit of that level
    on every day both the commune and the map hold: at most one (an overlap is reported on the later unit
    in file order) and at least one (a gap is reported on the commune)."""
    entries = {e.record.code: e for e in units}
    order = {code: i for i, code in enumerate(entries)}
    problems = []
    for map_, period in catalog.maps.items():
        in_map = catalog.units(map_)
        levels = sorted({u.level for u in in_map} & SECTOR_LEVELS)
        for commune in in_map:
            if commune.level is not UnitLevel.COMMUNE:
                continue
            needed = _intersection(_span(commune), _span(period))
            for level in levels:
                serving = sorted(catalog.units_serving(level, commune.code, map_), key=lambda u: order[u.code])
                if needed is not None:
                    for gap in _uncovered(needed, [_span(u) for u in serving]):
                        message = f"{commune.code}: no {level} unit of the {map_} map serves this commune"
                        days = _days(gap)
                        problems.append(entries[commune.code].problem(f"{message} {days}" if days else message))
                for first, second in combinations(serving, 2):
                    if first.overlaps(second):
                        entry = entries[second.code]
                        field = ("serves", second.serves.index(commune.code)) if second.serves else ("parent",)
                        message = (
                            f"{second.code}: commune {commune.code} is already served by {level} unit "
                            f"{first.code} ({entries[first.code].where}) in the {map_} map"
                        )
                        problems.append(entry.problem(message, *field))
    return problems


def procedure_references(manifest: Manifest, procedures: Sequence[Entry[Procedure]], catalog: Catalog) -> list[Problem]:
    problems = []
    for entry in procedures:
        procedure = entry.record
        for map_, levels in procedure.received_at.items():
            if map_ not in manifest.maps:
                message = f"{procedure.code}: map {map_} is not declared in catalog.yaml"
                problems.append(entry.problem(message, "received_at", map_.value))
                continue
            present = {u.level for u in catalog.units(map_)}
            for i, level in enumerate(levels):
                if level not in present:
                    message = f"{procedure.code}: no {level} unit in the {map_} map to receive it"
                    problems.append(entry.problem(message, "received_at", map_.value, i))
    return problems


def _span(validity: Validity) -> Span:
    return (validity.valid_from or date.min, validity.valid_to or date.max)


def _intersection(a: Span, b: Span) -> Span | None:
    start, end = max(a[0], b[0]), min(a[1], b[1])
    return (start, end) if start < end else None


def _uncovered(span: Span, covers: Iterable[Span]) -> list[Span]:
    """The parts of ``span`` that none of ``covers`` holds, in order."""
    gaps = []
    start, end = span
    for cover_start, cover_end in sorted(covers):
        if cover_end <= start:
            continue
        if cover_start >= end:
            break
        if cover_start > start:
            gaps.append((start, cover_start))
        start = max(start, cover_end)
        if start >= end:
            return gaps
    if start < end:
        gaps.append((start, end))
    return gaps


def _days(span: Span) -> str:
    """The days of a span in words, the last day inclusive: `from 2025-07-01 to 2025-12-31`."""
    start, end = span
    if start == date.min:
        return "" if end == date.max else f"before {end}"
    if end == date.max:
        return f"from {start}"
    last = end - timedelta(days=1)
    return f"on {start}" if last == start else f"from {start} to {last}"
