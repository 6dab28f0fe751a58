"""Routing's event handlers: intake's dossier events plan, pause, resume and close routes."""

from __future__ import annotations

import logging

from services.routing.commands import (
    RouteStatus,
    assign,
    close,
    emit,
    load_route,
    load_steps,
    pause,
    resume_paused,
)
from services.routing.context import Routing
from services.routing.domain import first_handover_at, step_id_for
from services.routing.lifecycle import RUNNING, PauseKind, StepAction, StepStatus
from services.routing.planning import PlannedRoute, RoutingError, plan_route
from services.routing.tables import Route, Step
from shared.bus.handlers import Handlers, PermanentError
from shared.bus.unit_of_work import UnitOfWork
from shared.events import Envelope
from shared.events.dossier import (
    DossierAccepted,
    DossierPaid,
    DossierStopped,
    DossierSupplemented,
    DossierWithdrawn,
    FinancialObligationSet,
    SupplementRequested,
)
from shared.events.step import PlannedStep, RoutePlanned

log = logging.getLogger(__name__)


def _planned_event(code: str, route: PlannedRoute) -> RoutePlanned:
    return RoutePlanned(
        procedure_code=route.procedure_code,
        map=route.map,
        route_version=route.route_version,
        steps=[
            PlannedStep(
                step_id=step_id_for(code, s.seq),
                seq=s.seq,
                unit_code=s.unit_code,
                key=s.key,
                name=s.name,
                unit_level=s.unit_level,
                budget_minutes=s.budget_minutes,
                counts=s.counts,
                external=s.external,
                external_system=s.external_system,
            )
            for s in route.steps
        ],
    )


async def plan_dossier(uow: UnitOfWork, routing: Routing, event: Envelope, accepted: DossierAccepted) -> None:
    """Plan the route from the catalogue (pinning its map and version), create every step, forward the
    first: at acceptance, or at the next working day's start when accepted after 15:00."""
    code = event.dossier_code
    if await load_route(uow.session, code) is not None:
        return
    try:
        planned = plan_route(
            routing.catalog,
            accepted.procedure_code,
            accepted.receiving_unit_code,
            accepted.received_at,
            commune_code=accepted.commune_code,
        )
    except RoutingError as exc:
        raise PermanentError(f"cannot plan the route of {code}: {exc}") from exc
    if not planned.steps:
        raise PermanentError(f"the route of {code} ({planned.procedure_code}) has no steps")
    uow.session.add(
        Route(
            dossier_code=code,
            procedure_code=planned.procedure_code,
            procedure_name=_procedure_name(routing, accepted.procedure_code),
            receiving_unit_code=accepted.receiving_unit_code,
            unit_map=planned.map,
            route_version=planned.route_version,
            status=RouteStatus.OPEN.value,
            planned_at=accepted.received_at,
        )
    )
    steps = [
        Step(
            id=str(step_id_for(code, s.seq)),
            dossier_code=code,
            seq=s.seq,
            key=s.key,
            name=s.name,
            unit_code=s.unit_code,
            unit_level=s.unit_level,
            budget_minutes=s.budget_minutes,
            counts=s.counts,
            external=s.external,
            external_system=s.external_system,
            status=StepStatus.PLANNED.value,
            changed_at=accepted.received_at,
        )
        for s in planned.steps
    ]
    uow.session.add_all(steps)
    emit(uow, code, "route.planned", _planned_event(code, planned), event.occurred_at)
    receiving = (accepted.receiving_unit_code, _unit_level(routing, accepted.receiving_unit_code))
    await assign(uow, routing, steps[0], first_handover_at(routing.calendar, accepted.received_at), from_unit=receiving)


def _procedure_name(routing: Routing, code: str) -> str:
    try:
        return routing.catalog.procedure(code).name
    except KeyError:
        return ""


def _unit_level(routing: Routing, code: str) -> str:
    try:
        return routing.catalog.unit(code).level.value
    except KeyError:
        return ""


def build_handlers(routing: Routing) -> Handlers:
    handlers = Handlers()

    @handlers.on("dossier.accepted")
    async def plan(uow: UnitOfWork, event: Envelope, accepted: DossierAccepted) -> None:
        await plan_dossier(uow, routing, event, accepted)

    async def pause_running(uow: UnitOfWork, event: Envelope, action: StepAction) -> None:
        """The desk paused the dossier in intake: the step in hand waits for the citizen too (a step the
        unit paused itself already waits)."""
        route = await load_route(uow.session, event.dossier_code)
        if route is None or route.status != RouteStatus.OPEN:
            log.info("%s: %s with no open route: nothing to pause", event.dossier_code, event.type)
            return
        for step in await load_steps(uow.session, event.dossier_code):
            if StepStatus(step.status) in RUNNING:
                pause(step, action, event.occurred_at)

    # A pause a unit asked for through routing comes back from intake (requested_by_unit_code): its step
    # already waits, and no other step may be paused by it.
    @handlers.on("dossier.supplement_requested")
    async def supplement_requested(uow: UnitOfWork, event: Envelope, requested: SupplementRequested) -> None:
        if not requested.before_acceptance and requested.requested_by_unit_code is None:
            await pause_running(uow, event, StepAction.REQUEST_SUPPLEMENT)

    @handlers.on("dossier.financial_obligation_set")
    async def obligation_set(uow: UnitOfWork, event: Envelope, notice: FinancialObligationSet) -> None:
        if notice.requested_by_unit_code is None:
            await pause_running(uow, event, StepAction.SET_FINANCIAL_OBLIGATION)

    async def resume_route(uow: UnitOfWork, event: Envelope, kind: PauseKind) -> None:
        route = await load_route(uow.session, event.dossier_code)
        if route is None or route.status != RouteStatus.OPEN:
            log.info("%s: %s with no open route: nothing to resume", event.dossier_code, event.type)
            return
        await resume_paused(uow, routing, event.dossier_code, kind, event.occurred_at)

    @handlers.on("dossier.supplemented")
    async def supplemented(uow: UnitOfWork, event: Envelope, _: DossierSupplemented) -> None:
        await resume_route(uow, event, PauseKind.SUPPLEMENT)

    @handlers.on("dossier.paid")
    async def paid(uow: UnitOfWork, event: Envelope, _: DossierPaid) -> None:
        await resume_route(uow, event, PauseKind.FINANCIAL_OBLIGATION)

    async def close_route(uow: UnitOfWork, event: Envelope, status: RouteStatus, reason: str) -> None:
        route = await load_route(uow.session, event.dossier_code)
        if route is None or route.status != RouteStatus.OPEN:
            return  # never accepted (no route), or already resolved or closed
        await close(uow, route, status, reason, event.occurred_at)

    @handlers.on("dossier.withdrawn")
    async def withdrawn(uow: UnitOfWork, event: Envelope, payload: DossierWithdrawn) -> None:
        await close_route(uow, event, RouteStatus.WITHDRAWN, payload.reason)

    @handlers.on("dossier.stopped")
    async def stopped(uow: UnitOfWork, event: Envelope, payload: DossierStopped) -> None:
        await close_route(uow, event, RouteStatus.STOPPED, payload.reason)

    return handlers
