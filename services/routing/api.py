"""Routing's read API: a dossier's route, its process control slip (handovers), one step."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.routing.access import may_read_route, may_read_unit
from services.routing.commands import load_route, load_steps
from services.routing.context import routing_of
from services.routing.schemas import HandoverSlip, RoutePublic, StepPublic
from services.routing.tables import Handover, Route, Step
from services.routing.views import handover_slip, route_public, step_public
from shared.web.auth import CurrentPrincipal, Principal
from shared.web.deps import SessionDep
from shared.web.problems import Problem

router = APIRouter(prefix="/v1", tags=["routes"])

DossierCode = Annotated[str, Path(min_length=1, max_length=64, examples=["H56.101-261123-0001"])]
StepId = Annotated[str, Path(min_length=1, max_length=36)]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or unknown API key"},
    403: {"description": "The key's unit holds no step of this dossier"},
    404: {"description": "No route for this dossier, or no such step"},
}


async def readable_route(session: AsyncSession, principal: Principal, code: str) -> tuple[Route, list[Step]]:
    route = await load_route(session, code)
    if route is None:
        raise Problem(404, "Route not found", f"No route has been planned for dossier {code!r}.")
    steps = await load_steps(session, code)
    if not may_read_route(principal, [route.receiving_unit_code, *(s.unit_code for s in steps)]):
        raise Problem(403, "Forbidden", f"This API key's units hold no step of dossier {code}.")
    return route, steps


@router.get(
    "/dossiers/{code}/route",
    response_model=RoutePublic,
    responses=ERRORS,
    summary="The dossier's route: map, route version, and every step with its unit, budget, deadline and state",
)
async def get_route(
    code: DossierCode, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> RoutePublic:
    route, steps = await readable_route(session, principal, code)
    return route_public(route, steps, routing_of(request), datetime.now(UTC))


@router.get(
    "/dossiers/{code}/handovers",
    response_model=HandoverSlip,
    responses=ERRORS,
    summary="The process control slip (Phiếu kiểm soát quá trình giải quyết hồ sơ): one row per handover",
    description="Handing-over and receiving unit, handed over at, accepted at, the step's deadline, finished "
    "at, and whether the step finished early, on time or late (trước hạn / đúng hạn / quá hạn, by minute), with "
    "any failure the receiving unit reported. A step sent back to gets a new row; earlier rows never change. A "
    "handover to an external system also shows when it acknowledged and the working minutes lost in the "
    "interconnection (`interconnection_minutes`), apart from the unit's own (`unit_minutes`).",
)
async def get_handovers(
    code: DossierCode, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> HandoverSlip:
    route, _ = await readable_route(session, principal, code)
    rows = (await session.exec(select(Handover).where(Handover.dossier_code == code).order_by(col(Handover.n)))).all()
    return handover_slip(route, list(rows), routing_of(request), datetime.now(UTC))


@router.get(
    "/steps/{step_id}",
    response_model=StepPublic,
    responses=ERRORS,
    summary="One step: its state, deadline, time left and the actions allowed now",
)
async def get_step(step_id: StepId, request: Request, session: SessionDep, principal: CurrentPrincipal) -> StepPublic:
    step = await session.get(Step, step_id)
    if step is None:
        raise Problem(404, "Step not found", f"No step has the id {step_id!r}.")
    if not may_read_unit(principal, step.unit_code):
        raise Problem(403, "Forbidden", f"This API key may not see the steps of unit {step.unit_code}.")
    return step_public(step, routing_of(request), datetime.now(UTC))
