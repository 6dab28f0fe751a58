"""Checks across records: references between units, one sector unit per commune, levels procedures use."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

from shared.catalog.catalog import Catalog
from shared.catalog.errors import Problem
from shared.catalog.models import SECTOR_LEVELS, Manifest, Procedure, Unit, UnitLevel, UnitMap
from shared.catalog.schema import Entry

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
    """Each commune has at most one unit of each sector level in a map on any day."""
    entries = {e.record.code: e for e in units}
    order = {code: i for i, code in enumerate(entries)}
    problems = []
    for map_ in catalog.maps:
        for commune in catalog.units(map_):
            if commune.level is not UnitLevel.COMMUNE:
                continue
            for level in sorted(SECTOR_LEVELS):
                serving = sorted(catalog.units_serving(level, commune.code, map_), key=lambda u: order[u.code])
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
