"""A unit's inbox: the steps it holds open, oldest handover first, with deadlines and time left."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy import ColumnElement, and_, not_, or_, text, tuple_
from sqlmodel import col, select
from sqlmodel.sql.expression import Select

from services.routing.access import may_read_unit
from services.routing.context import routing_of
from services.routing.lifecycle import RUNNING, StepStatus
from services.routing.schemas import InboxPage, OpenStatus
from services.routing.tables import OPEN_STEPS, Route, Step
from services.routing.views import inbox_item
from shared.web.auth import CurrentPrincipal
from shared.web.cursor import decode_cursor, encode_cursor
from shared.web.deps import SessionDep
from shared.web.problems import Problem

router = APIRouter(prefix="/v1", tags=["inbox"])

UnitCode = Annotated[str, Path(min_length=1, max_length=40, examples=["H56.VPDK.01"])]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or unknown API key"},
    403: {"description": "The key is not this unit's (nor `read`)"},
    422: {"description": "Invalid filter or cursor"},
}


def _cursor(step: Step) -> str:
    assert step.assigned_at is not None
    return encode_cursor(step.assigned_at, step.id)


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    """Past the deadline by minute while running, or already past it when paused (the clock is stopped)."""
    minute = now.replace(second=0, microsecond=0)
    return or_(
        and_(
            col(Step.status).in_([s.value for s in RUNNING]),
            col(Step.deadline_at).is_not(None),
            col(Step.deadline_at) < minute,
        ),
        and_(col(Step.status) == StepStatus.PAUSED.value, col(Step.overdue_when_paused).is_(True)),
    )


def inbox_query(
    unit_code: str,
    now: datetime,
    status: OpenStatus | None,
    overdue: bool | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> Select[Step, Route]:
    """One page of the inbox, read in index order: the open steps through ix_step_open_inbox, one status
    through ix_step_inbox. SQLite uses a partial index only when the query states its predicate literally,
    hence OPEN_STEPS as text; the cursor is a row value so both databases seek to it in the index."""
    opened = col(Step.status) == status.value if status is not None else text(f"step.{OPEN_STEPS}")
    query = (
        select(Step, Route)
        .join(Route, col(Route.dossier_code) == col(Step.dossier_code))
        .where(col(Step.unit_code) == unit_code, opened)
    )
    if overdue is not None:
        clause = overdue_clause(now)
        query = query.where(clause if overdue else not_(clause))
    if after is not None:
        query = query.where(tuple_(col(Step.assigned_at), col(Step.id)) > tuple_(*after))
    return query.order_by(col(Step.assigned_at), col(Step.id)).limit(limit + 1)


@router.get(
    "/units/{unit_code}/inbox",
    response_model=InboxPage,
    responses=ERRORS,
    summary="The unit's open steps, oldest handover first; follow next_cursor for the next page",
    description="Open steps are assigned, accepted or paused for the citizen. Each shows its deadline and the "
    "working time left (minutes and hours, negative when overdue; frozen while paused). Filter by `status` and "
    "by `overdue`. A unit's key (`unit:<code>` or `desk:<code>`) sees its own inbox; `read` and `admin` any.",
)
async def inbox(
    unit_code: UnitCode,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    status: Annotated[OpenStatus | None, Query()] = None,
    overdue: Annotated[bool | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> InboxPage:
    if not may_read_unit(principal, unit_code):
        raise Problem(403, "Forbidden", f"This API key may not see the inbox of unit {unit_code}.")
    now = datetime.now(UTC)
    after = decode_cursor(cursor) if cursor is not None else None
    query = inbox_query(unit_code, now, status, overdue, after, limit)
    rows = list((await session.exec(query)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    routing = routing_of(request)
    return InboxPage(
        unit_code=unit_code,
        items=[inbox_item(step, route, routing, now) for step, route in rows],
        next_cursor=_cursor(rows[-1][0]) if more and rows else None,
    )
