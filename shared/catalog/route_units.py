"""Resolve a route step's unit type to the units that take the step for a commune in a map."""

from __future__ import annotations

from shared.catalog.catalog import Catalog
from shared.catalog.models import SECTOR_LEVELS, Unit, UnitLevel, UnitMap
from shared.catalog.routes import DistrictDepartment, NamedUnit, UnitType


class Unresolved(LookupError):
    """A unit type names no unit for a commune in a map."""


def describe(ref: UnitType | DistrictDepartment | NamedUnit) -> str:
    if isinstance(ref, DistrictDepartment):
        return f"district_department {ref.district_department}"
    if isinstance(ref, NamedUnit):
        return f"unit {ref.code}"
    return str(ref)


def resolve(
    catalog: Catalog, ref: UnitType | DistrictDepartment | NamedUnit, commune: str, map_: UnitMap
) -> tuple[Unit, ...]:
    """The units of ``map_`` a step's unit type names for a commune, whatever their dates (several only when
    they follow one another in time, as sector units may). ``receiving`` is not resolved here: it is the
    dossier's receiving unit. Raises Unresolved with the reason."""
    if isinstance(ref, NamedUnit):
        return (_in_map(catalog, ref.code, map_),)
    if isinstance(ref, DistrictDepartment):
        district = _territorial_ancestor(catalog, commune, map_, UnitLevel.DISTRICT)
        code = f"{district.code}.{ref.district_department}"
        unit = _in_map(catalog, code, map_)
        if unit.level is not UnitLevel.DEPARTMENT or unit.parent != district.code:
            raise Unresolved(f"{code} is a {unit.level} under {unit.parent}, not a department of {district.code}")
        return (unit,)
    if ref is UnitType.RECEIVING:
        raise ValueError("the receiving unit is the dossier's, not the commune's")
    if ref is UnitType.COMMUNE:
        return (catalog.unit(commune),)
    if ref in (UnitType.DISTRICT, UnitType.PROVINCE):
        return (_territorial_ancestor(catalog, commune, map_, UnitLevel(ref.value)),)
    level = UnitLevel(ref.value)
    assert level in SECTOR_LEVELS
    serving = catalog.units_serving(level, commune, map_)
    if not serving:
        raise Unresolved(f"no {level} unit serves {commune} in the {map_} map")
    return serving


def _in_map(catalog: Catalog, code: str, map_: UnitMap) -> Unit:
    try:
        unit = catalog.unit(code)
    except KeyError:
        raise Unresolved(f"no unit {code} in the catalogue") from None
    if map_ not in unit.maps:
        raise Unresolved(f"{code} is not in the {map_} map")
    return unit


def _territorial_ancestor(catalog: Catalog, commune: str, map_: UnitMap, level: UnitLevel) -> Unit:
    found = next((u for u in catalog.ancestors(commune) if u.level is level and map_ in u.maps), None)
    if found is None:
        raise Unresolved(f"no {level} above {commune} in the {map_} map")
    return found
