"""Plan a dossier's route: its ordered steps, each resolved to a concrete unit. Pure: no I/O.

The map is the one in force on the day the dossier was accepted (Asia/Ho_Chi_Minh). An interconnected
procedure takes its route for that map from the catalogue (routes/*.yaml); the route's version and the
map go with the plan, so the routing service can pin them on the dossier and later edits of the route
files do not change running dossiers. A one-stop procedure gets one step at the receiving unit.

Each step's unit type is resolved from the commune the dossier concerns: the receiving unit when it is
a commune, else the communes of the receiving unit's area (a district's communes, a land office's
served communes, the whole province for the provincial service centre), which must all name the same
unit, or the ``commune_code`` given. So a dossier received at the provincial service centre for land in
a given commune names that commune, since two land offices share the province.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from shared.calendar import VIETNAM_TZ
from shared.catalog import Catalog, ProcedureKind, Unit, UnitLevel, UnitMap
from shared.catalog.route_checks import statutory_minutes
from shared.catalog.route_units import Unresolved, describe, resolve
from shared.catalog.routes import Route, Step, UnitType

ONE_STOP_VERSION = "one_stop"
ONE_STOP_KEY = "decide"
ONE_STOP_NAME = "Giải quyết hồ sơ"


@dataclass(frozen=True)
class RouteStep:
    seq: int  # 1-based, in order
    key: str  # stable id within the route, e.g. "appraise"
    name: str  # Vietnamese, e.g. "Thẩm định hồ sơ"
    unit_code: str  # concrete unit resolved for this dossier
    unit_level: str  # the unit's level value, e.g. "land_office", "commune", "district", "tax"
    budget_minutes: int  # working minutes (1 working day = 480); may be 0 for a non-counting step
    counts: bool  # counts toward the dossier's deadline
    external: bool  # handed over to an external system
    external_system: str | None = None  # which one: "land_registry", "tax"…


@dataclass(frozen=True)
class PlannedRoute:
    procedure_code: str
    map: str  # "three_level" | "two_level"
    route_version: str  # "one_stop" for one-stop procedures
    steps: tuple[RouteStep, ...]


class RoutingError(ValueError):
    """Cannot plan: unknown procedure or unit, no route for the map, no unit serves the commune."""


def route_for(catalog: Catalog, procedure_code: str, map: UnitMap | str) -> Route | None:
    """The catalogue's route of a procedure in a map, None if it has none (one-stop procedures have none)."""
    return catalog.route(procedure_code, UnitMap(map))


def plan_route(
    catalog: Catalog,
    procedure_code: str,
    receiving_unit_code: str,
    accepted_at: datetime,
    *,
    commune_code: str | None = None,
) -> PlannedRoute:
    """The steps of a dossier of ``procedure_code`` accepted at ``receiving_unit_code`` at ``accepted_at``.

    A one-stop procedure gets a single counting step at the receiving unit (key "decide", name "Giải quyết
    hồ sơ") whose budget is the statutory time: working or calendar days × 480 working minutes; 0 for a
    same-day procedure (decided the day it is received: there is no working time to share out).

    ``commune_code`` is the commune the dossier concerns (where the land lies, say), needed only when the
    receiving unit is not a commune and its area does not settle a step's unit. The receiving unit must
    belong to the map in force and hold that day; whether it may receive the procedure is intake's check.
    """
    if accepted_at.tzinfo is None or accepted_at.utcoffset() is None:
        raise RoutingError(f"accepted_at must be timezone-aware, got {accepted_at.isoformat()}")
    day = accepted_at.astimezone(VIETNAM_TZ).date()
    try:
        procedure = catalog.procedure(procedure_code)
        receiving = catalog.unit(receiving_unit_code)
        map_ = catalog.unit_map_at(day)
    except (KeyError, LookupError) as e:
        raise RoutingError(e.args[0]) from None
    if map_ not in receiving.maps or not receiving.holds_on(day):
        raise RoutingError(f"{receiving.code} is not a unit of the {map_} map in force on {day}")

    if procedure.kind is ProcedureKind.ONE_STOP:
        minutes = statutory_minutes(procedure)
        step = RouteStep(1, ONE_STOP_KEY, ONE_STOP_NAME, receiving.code, receiving.level.value, minutes, True, False)
        return PlannedRoute(procedure.code, map_.value, ONE_STOP_VERSION, (step,))

    route = catalog.route(procedure.code, map_)
    if route is None:
        raise RoutingError(f"no route for {procedure.code} in the {map_} map")
    communes = _communes(catalog, receiving, commune_code, map_, day)
    steps = tuple(
        RouteStep(
            seq=i,
            key=step.key,
            name=step.name,
            unit_code=(unit := _unit(catalog, step, receiving, communes, map_, day)).code,
            unit_level=unit.level.value,
            budget_minutes=step.minutes,
            counts=step.counts,
            external=step.external is not None,
            external_system=step.external.value if step.external is not None else None,
        )
        for i, step in enumerate(route.steps, start=1)
    )
    return PlannedRoute(procedure.code, map_.value, route.version, steps)


def _communes(catalog: Catalog, receiving: Unit, commune_code: str | None, map_: UnitMap, day: date) -> list[str]:
    """The communes a step's unit is resolved from: the one given, else the receiving unit's area."""
    if commune_code is not None:
        try:
            commune = catalog.unit(commune_code)
        except KeyError as e:
            raise RoutingError(e.args[0]) from None
        if commune.level is not UnitLevel.COMMUNE or map_ not in commune.maps or not commune.holds_on(day):
            raise RoutingError(f"{commune_code} is not a commune of the {map_} map in force on {day}")
        return [commune.code]
    area = sorted(c for c in catalog.communes_served(receiving.code, map_) if catalog.unit(c).holds_on(day))
    if not area:
        raise RoutingError(f"{receiving.code} covers no commune of the {map_} map on {day}: give the commune")
    return area


def _unit(catalog: Catalog, step: Step, receiving: Unit, communes: list[str], map_: UnitMap, day: date) -> Unit:
    if step.unit is UnitType.RECEIVING:
        return receiving
    found: dict[str, Unit] = {}
    for commune in communes:
        try:
            holding = [u for u in resolve(catalog, step.unit, commune, map_) if u.holds_on(day)]
        except Unresolved as e:
            raise RoutingError(f"step {step.key!r}: {e}") from None
        if not holding:
            raise RoutingError(f"step {step.key!r}: no {describe(step.unit)} for {commune} holds on {day}")
        found[holding[0].code] = holding[0]
    if len(found) > 1:
        raise RoutingError(
            f"step {step.key!r}: the communes of {receiving.code} have different {describe(step.unit)} units "
            f"({', '.join(sorted(found))}): give the commune the dossier concerns"
        )
    return next(iter(found.values()))


__all__ = ["ONE_STOP_VERSION", "PlannedRoute", "RouteStep", "RoutingError", "plan_route", "route_for"]
