"""sla's HTTP API: a dossier's clock (now or as of an instant) and what is overdue now."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.sla.attribution import overruns, responsible
from services.sla.context import sla_of
from services.sla.projection import clock_of
from services.sla.schemas import (
    ClockPublic,
    OverdueDossier,
    OverduePage,
    OverdueStep,
    StepClockPublic,
    hours,
)
from services.sla.tables import DossierClockRow, FactRow, StepClockRow
from shared.web.auth import require_any
from shared.web.deps import SessionDep
from shared.web.instants import Instant
from shared.web.problems import Problem

router = APIRouter(prefix="/v1", tags=["clocks"])
CanRead = require_any("read", prefixes=("unit:", "desk:"))
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or unknown API key"},
    404: {"description": "No clock for this dossier (never accepted, or not seen yet)"},
    422: {"description": "Invalid parameter"},
}
AsOf = Annotated[
    Instant | None,
    Query(description="The instant to compute the clock at (ISO 8601 with an offset); default now."),
]


async def has_history(session: AsyncSession, code: str) -> bool:
    """Whether sla has seen any event of the dossier (a clock can be projected only then)."""
    found = await session.exec(select(FactRow.id).where(col(FactRow.dossier_code) == code).limit(1))
    return found.first() is not None


@router.get(
    "/dossiers/{code}/clock",
    response_model=ClockPublic,
    responses=ERRORS,
    dependencies=[CanRead],
    summary="The dossier's clock and its steps' clocks, now or as of an instant",
    description="Working time throughout (1 working day = 8 hours). The appointment moves out by time waiting "
    "for the citizen, stops and steps that do not count; `as_of` answers from the dossier's history exactly as "
    "the live state did at that instant.",
)
async def get_clock(code: str, request: Request, session: SessionDep, as_of: AsOf = None) -> ClockPublic:
    clock = await clock_of(session, sla_of(request), code, as_of) if await has_history(session, code) else None
    if clock is None:
        when = f" as of {as_of.isoformat()}" if as_of else ""
        raise Problem(404, "Clock not found", f"No clock for dossier {code!r}{when}.")
    party = responsible(clock)
    return ClockPublic(
        dossier_code=code,
        as_of=clock.as_of,
        state=clock.state,
        procedure_code=clock.procedure_code,
        receiving_unit_code=clock.receiving_unit_code,
        accepted_at=clock.accepted_at,
        started_at=clock.started_at,
        original_appointment_at=clock.original_appointment_at,
        appointment_at=clock.appointment_at,
        reset_at=clock.reset_at,
        ended_at=clock.ended_at,
        outcome=clock.outcome,
        overdue=clock.overdue,
        used_minutes=clock.used_minutes,
        left_minutes=clock.left_minutes,
        left_hours=hours(clock.left_minutes),
        paused_minutes=clock.paused_minutes,
        excluded_minutes=clock.excluded_minutes,
        paused_for=clock.open_exclusion,
        responsible=party,
        overruns=[o for o in overruns(clock)],
        apologies=len(clock.apologies),
        steps=[
            StepClockPublic(
                step_id=a.step_id,
                seq=a.seq,
                attempt=a.attempt,
                key=a.key,
                name=a.name,
                unit_code=a.unit_code,
                unit_level=a.unit_level,
                from_unit_code=a.from_unit_code,
                budget_minutes=a.budget_minutes,
                counts=a.counts,
                assigned_at=a.assigned_at,
                started_at=a.assigned_at,
                accepted_at=a.accepted_at,
                deadline_at=a.deadline_at,
                ended_at=a.ended_at,
                ending=a.end,
                result=a.result,
                overdue=a.overdue,
                paused=a.paused_now,
                paused_minutes=a.paused_minutes,
                interconnection_minutes=a.interconnection_minutes,
                overrun_minutes=a.overrun_minutes,
                interconnection_overrun_minutes=a.interconnection_overrun_minutes,
            )
            for a in clock.attempts
        ],
    )


@router.get(
    "/overdue",
    response_model=OverduePage,
    responses=ERRORS,
    dependencies=[CanRead],
    summary="Steps and dossiers overdue now, by unit and level",
    description="Open, running steps past their deadline (by minute) with the unit and level they are charged "
    "to, and dossiers past their appointment without a result. Filter by `unit` (the step's unit, or the "
    "dossier's receiving unit) and `level`.",
)
async def overdue(
    session: SessionDep,
    unit: Annotated[str | None, Query(max_length=40)] = None,
    level: Annotated[str | None, Query(max_length=30)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> OverduePage:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    steps_query = select(StepClockRow).where(
        col(StepClockRow.is_open).is_(True),
        col(StepClockRow.paused).is_(False),
        col(StepClockRow.deadline_at) < now,
    )
    if unit is not None:
        steps_query = steps_query.where(col(StepClockRow.unit_code) == unit)
    if level is not None:
        steps_query = steps_query.where(col(StepClockRow.unit_level) == level)
    steps = (await session.exec(steps_query.order_by(col(StepClockRow.deadline_at)).limit(limit))).all()
    dossiers_query = select(DossierClockRow).where(
        col(DossierClockRow.state) == "running", col(DossierClockRow.appointment_at) < now
    )
    if unit is not None:
        dossiers_query = dossiers_query.where(col(DossierClockRow.receiving_unit_code) == unit)
    if level is not None:
        dossiers_query = dossiers_query.where(col(DossierClockRow.current_unit_level) == level)
    dossiers = (await session.exec(dossiers_query.order_by(col(DossierClockRow.appointment_at)).limit(limit))).all()
    return OverduePage(
        as_of=now,
        steps=[
            OverdueStep(
                dossier_code=s.dossier_code,
                step_id=s.step_id,
                seq=s.seq,
                attempt=s.attempt,
                name=s.name,
                unit_code=s.unit_code,
                unit_level=s.unit_level,
                deadline_at=s.deadline_at or now,
            )
            for s in steps
        ],
        dossiers=[
            OverdueDossier(
                dossier_code=d.dossier_code,
                receiving_unit_code=d.receiving_unit_code,
                appointment_at=d.appointment_at or now,
                current_unit_code=d.current_unit_code,
                current_unit_level=d.current_unit_level,
            )
            for d in dossiers
        ],
    )
