"""sla's HTTP API."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel
from sqlmodel import col, select

from services.sla.tables import DossierClock, StepClock
from shared.web.auth import require_any
from shared.web.deps import SessionDep
from shared.web.problems import Problem

router = APIRouter(prefix="/v1", tags=["clocks"])
CanRead = require_any("read", prefixes=("unit:", "desk:"))


class StepClockPublic(BaseModel):
    step_id: str
    seq: int
    unit_code: str
    started_at: datetime
    deadline_at: datetime | None


class ClockPublic(BaseModel):
    dossier_code: str
    state: str
    started_at: datetime
    appointment_at: datetime | None
    steps: list[StepClockPublic]


@router.get(
    "/dossiers/{code}/clock",
    response_model=ClockPublic,
    dependencies=[CanRead],
    summary="The dossier's clock and its steps' clocks",
)
async def get_clock(code: str, session: SessionDep) -> ClockPublic:
    clock = await session.get(DossierClock, code)
    if clock is None:
        raise Problem(404, "Clock not found", f"No clock is running for dossier {code!r}.")
    steps = (
        await session.exec(select(StepClock).where(StepClock.dossier_code == code).order_by(col(StepClock.seq)))
    ).all()
    return ClockPublic(
        dossier_code=code,
        state=clock.state,
        started_at=clock.started_at,
        appointment_at=clock.appointment_at,
        steps=[
            StepClockPublic(
                step_id=s.step_id,
                seq=s.seq,
                unit_code=s.unit_code,
                started_at=s.started_at,
                deadline_at=s.deadline_at,
            )
            for s in steps
        ],
    )
