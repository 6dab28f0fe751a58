"""Checks of the route files against the rest of the catalogue: known interconnected procedures, maps they
are received in, budgets adding up to the statutory time, unit types resolvable for every commune of the
map, and a route for every map an interconnected procedure is received in."""

from __future__ import annotations

from collections.abc import Sequence

from shared.catalog.catalog import Catalog
from shared.catalog.errors import Problem
from shared.catalog.models import Manifest, Procedure, ProcedureKind, TimeUnit, UnitLevel, UnitMap
from shared.catalog.route_units import Unresolved, describe, resolve
from shared.catalog.routes import MINUTES_PER_WORKING_DAY, Route, RouteFile, Step, UnitType
from shared.catalog.schema import Entry

_SHOWN = 3  # communes named in a message before "and N more"


def statutory_minutes(procedure: Procedure) -> int:
    """The statutory time in working minutes: a day (working or calendar) is 480; same-day is 0."""
    if procedure.statutory == "same_day":
        return 0
    return round(procedure.statutory.amount * MINUTES_PER_WORKING_DAY)


def route_problems(
    manifest: Manifest, routes: Sequence[Entry[RouteFile]], procedures: Sequence[Entry[Procedure]], catalog: Catalog
) -> list[Problem]:
    problems: list[Problem] = []
    first: dict[str, str] = {}
    for entry in routes:
        file = entry.record
        if file.procedure in first:
            message = f"{file.procedure}: routes already given for this procedure (at {first[file.procedure]})"
            problems.append(entry.problem(message, "procedure"))
            continue
        first[file.procedure] = entry.where
        problems += _file_problems(manifest, entry, catalog)
    problems += missing_routes(manifest, procedures, {e.record.procedure for e in routes})
    return problems


def missing_routes(manifest: Manifest, procedures: Sequence[Entry[Procedure]], routed: set[str]) -> list[Problem]:
    """Every interconnected procedure has a route file covering each declared map it is received in (the
    other maps of a route file are reported with that file)."""
    problems = []
    for entry in procedures:
        procedure = entry.record
        if procedure.kind is not ProcedureKind.INTERCONNECTED or procedure.code in routed:
            continue
        maps = [m for m in procedure.received_at if m in manifest.maps]
        if maps:
            message = (
                f"{procedure.code}: an interconnected procedure needs its route for the "
                f"{' and '.join(maps)} map{'s' if len(maps) > 1 else ''}: no file of routes/ names it"
            )
            problems.append(entry.problem(message, "kind"))
    return problems


def _file_problems(manifest: Manifest, entry: Entry[RouteFile], catalog: Catalog) -> list[Problem]:
    file = entry.record
    try:
        procedure = catalog.procedure(file.procedure)
    except KeyError:
        return [entry.problem(f"{file.procedure}: unknown procedure: no such code in the procedures", "procedure")]
    if procedure.kind is not ProcedureKind.INTERCONNECTED:
        message = (
            f"{file.procedure}: a {procedure.kind} procedure is decided by the receiving unit and has no route; "
            f"only {ProcedureKind.INTERCONNECTED} procedures do"
        )
        return [entry.problem(message, "procedure")]
    problems = []
    for map_, steps in file.routes.items():
        where = ("routes", map_.value)
        if map_ not in manifest.maps:
            problems.append(entry.problem(f"{file.procedure}: map {map_} is not declared in catalog.yaml", *where))
            continue
        if map_ not in procedure.received_at:
            received = ", ".join(procedure.received_at)
            message = f"{file.procedure}: not received in the {map_} map (its received_at lists {received})"
            problems.append(entry.problem(message, *where))
            continue
        route = Route(file.procedure, map_, file.version, steps)
        total, statutory = route.counting_minutes, statutory_minutes(procedure)
        if total != statutory:
            message = (
                f"{file.procedure}: the counting steps of the {map_} route add up to {_days(total)}, "
                f"not the statutory {_statutory(procedure)}"
            )
            problems.append(entry.problem(message, *where))
        problems += _step_problems(entry, route, catalog)
    missing = [m for m in procedure.received_at if m in manifest.maps and m not in file.routes]
    for map_ in missing:
        message = f"{file.procedure}: no route for the {map_} map, where the procedure is received"
        problems.append(entry.problem(message, "routes"))
    return problems


def _step_problems(entry: Entry[RouteFile], route: Route, catalog: Catalog) -> list[Problem]:
    problems = []
    seen: dict[str, int] = {}
    communes = sorted(u.code for u in catalog.units(route.map) if u.level is UnitLevel.COMMUNE)
    for i, step in enumerate(route.steps):
        at = ("routes", route.map.value, i)
        if step.key in seen:
            first = seen[step.key] + 1
            message = (
                f"{route.procedure}: step key {step.key!r} repeated in the {route.map} route (first at step {first})"
            )
            problems.append(entry.problem(message, *at, "key"))
        else:
            seen[step.key] = i
        unresolved = _unresolved(catalog, step, communes, route.map)
        if unresolved:
            names = ", ".join(code for code, _ in unresolved[:_SHOWN])
            more = f" and {len(unresolved) - _SHOWN} more" if len(unresolved) > _SHOWN else ""
            message = (
                f"{route.procedure}: step {step.key!r} of the {route.map} route: {describe(step.unit)} cannot be "
                f"resolved for commune {names}{more}: {unresolved[0][1]}"
            )
            problems.append(entry.problem(message, *at, "unit"))
    return problems


def _unresolved(catalog: Catalog, step: Step, communes: list[str], map_: UnitMap) -> list[tuple[str, str]]:
    if step.unit is UnitType.RECEIVING:
        return []
    failed = []
    for commune in communes:
        try:
            resolve(catalog, step.unit, commune, map_)
        except Unresolved as e:
            failed.append((commune, str(e)))
    return failed


def _days(minutes: int) -> str:
    days = minutes / MINUTES_PER_WORKING_DAY
    return f"{days:g} day{'s' if days != 1 else ''}"


def _statutory(procedure: Procedure) -> str:
    if procedure.statutory == "same_day":
        return "same_day (0 days)"
    amount, unit = procedure.statutory.amount, procedure.statutory.unit
    return f"{amount:g} {'working days' if unit is TimeUnit.WORKING_DAYS else 'calendar days'}"
