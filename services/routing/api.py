"""Routing's HTTP API for agencies."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel
from sqlmodel import col, select

from services.routing.tables import Step
from shared.web.auth import require_any
from shared.web.deps import SessionDep
from shared.web.problems import Problem

router = APIRouter(prefix="/v1", tags=["routes"])
CanRead = require_any("read", prefixes=("unit:", "desk:"))


class StepPublic(BaseModel):
    step_id: str
    seq: int
    unit_code: str
    status: str
    assigned_at: datetime | None


class RoutePublic(BaseModel):
    dossier_code: str
    steps: list[StepPublic]


@router.get(
    "/dossiers/{code}/route",
    response_model=RoutePublic,
    dependencies=[CanRead],
    summary="The dossier's planned steps and their state",
)
async def get_route(code: str, session: SessionDep) -> RoutePublic:
    rows = (await session.exec(select(Step).where(Step.dossier_code == code).order_by(col(Step.seq)))).all()
    if not rows:
        raise Problem(404, "Route not found", f"No route has been planned for dossier {code!r}.")
    return RoutePublic(
        dossier_code=code,
        steps=[
            StepPublic(step_id=s.id, seq=s.seq, unit_code=s.unit_code, status=s.status, assigned_at=s.assigned_at)
            for s in rows
        ],
    )
