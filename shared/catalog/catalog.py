"""Lookups over a loaded catalogue. Assumes the records passed the loader's checks."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path

from shared.catalog.models import SECTOR_LEVELS, TERRITORIAL_LEVELS, Procedure, Unit, UnitLevel, UnitMap, Validity
from shared.catalog.routes import Route


class Catalog:
    def __init__(
        self,
        *,
        directory: Path,
        maps: Mapping[UnitMap, Validity],
        units: Iterable[Unit],
        procedures: Iterable[Procedure],
        calendar_overrides: Path | None = None,
        routes: Iterable[Route] = (),
    ) -> None:
        self.directory = directory
        self.maps: Mapping[UnitMap, Validity] = dict(maps)
        self.calendar_overrides = calendar_overrides
        self._units = {u.code: u for u in units}
        self._procedures = {p.code: p for p in procedures}
        self._routes = {(r.procedure, r.map): r for r in routes}
        serving: defaultdict[tuple[UnitMap, UnitLevel, str], list[Unit]] = defaultdict(list)
        for unit in self._units.values():
            if unit.level in SECTOR_LEVELS:
                for map_ in unit.maps:
                    for commune in self.communes_served(unit.code, map_):
                        serving[map_, unit.level, commune].append(unit)
        self._serving = {key: tuple(found) for key, found in serving.items()}

    def procedure(self, code: str) -> Procedure:
        try:
            return self._procedures[code]
        except KeyError:
            raise KeyError(f"no procedure {code} in the catalogue") from None

    def procedures(self, at: date | None = None) -> list[Procedure]:
        return [p for p in self._procedures.values() if at is None or p.holds_on(at)]

    def route(self, procedure_code: str, map: UnitMap) -> Route | None:
        """The route of an interconnected procedure in a map (routes/*.yaml); None if it has none."""
        return self._routes.get((procedure_code, map))

    def routes(self) -> list[Route]:
        return list(self._routes.values())

    def unit(self, code: str) -> Unit:
        try:
            return self._units[code]
        except KeyError:
            raise KeyError(f"no unit {code} in the catalogue") from None

    def units(self, map: UnitMap | None = None, at: date | None = None) -> list[Unit]:
        return [u for u in self._units.values() if (map is None or map in u.maps) and (at is None or u.holds_on(at))]

    def unit_map_at(self, day: date) -> UnitMap:
        for map_, period in self.maps.items():
            if period.holds_on(day):
                return map_
        raise LookupError(f"no map of local government holds on {day}")

    def ancestors(self, code: str) -> list[Unit]:
        """The parent chain of a unit, nearest first, up to its province."""
        chain: list[Unit] = []
        parent = self.unit(code).parent
        while parent is not None:
            chain.append(self.unit(parent))
            parent = chain[-1].parent
        return chain

    def communes_served(self, code: str, map: UnitMap) -> frozenset[str]:
        """The communes of ``map`` the unit covers: itself, those below it, or for a sector unit those
        it lists in ``serves`` (if none, its nearest territorial ancestor's)."""
        unit = self.unit(code)
        if map not in unit.maps:
            return frozenset()
        if unit.serves:
            return frozenset(c for c in unit.serves if map in self.unit(c).maps)
        anchor = next((u for u in [unit, *self.ancestors(code)] if u.level in TERRITORIAL_LEVELS), None)
        if anchor is None:
            return frozenset()
        return frozenset(
            u.code
            for u in self.units(map)
            if u.level is UnitLevel.COMMUNE
            and (u.code == anchor.code or anchor.code in {a.code for a in self.ancestors(u.code)})
        )

    def units_serving(self, level: UnitLevel, commune: str, map: UnitMap) -> tuple[Unit, ...]:
        """Every unit of a sector level that serves the commune in the map, whatever its dates."""
        return self._serving.get((map, level, commune), ())

    def serving(self, level: UnitLevel, commune: str, at: date) -> Unit:
        """The unit of a sector level (land office, tax, …) that serves the commune on the given day."""
        if level not in SECTOR_LEVELS:
            raise ValueError(f"{level} is not a sector level: {sorted(SECTOR_LEVELS)}")
        map_ = self.unit_map_at(at)
        place = self.unit(commune)
        if place.level is not UnitLevel.COMMUNE or map_ not in place.maps:
            raise LookupError(f"{commune} is not a commune of the {map_} map in force on {at}")
        found = [u for u in self.units_serving(level, commune, map_) if u.holds_on(at)]
        if not found:
            raise LookupError(f"no {level} unit serves {commune} on {at}")
        return found[0]
