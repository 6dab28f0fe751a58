"""Routing's commands: each changes one route's steps and emits their events in one unit of work.

Used by the event handlers (planning, pauses and resumptions from intake, closing) and by the agencies'
actions (actions.py). Status changes go through lifecycle.transition; time rules are in domain.py.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.routing.context import Routing
from services.routing.deliveries import open_delivery
from services.routing.domain import handover_id_for, is_overdue, resume, step_deadline
from services.routing.lifecycle import OPEN, PAUSES, PauseKind, StepAction, StepStatus, transition
from services.routing.tables import Handover, Route, Step
from shared.bus.unit_of_work import UnitOfWork
from shared.calendar.deadlines import timeliness
from shared.events import new_envelope
from shared.events.step import DossierResolved, StepAssigned, StepResult, StepResumed

PRODUCER = "routing"


class RouteStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    WITHDRAWN = "withdrawn"
    STOPPED = "stopped"


class HandoverKind(StrEnum):
    FORWARDED = "forwarded"
    SENT_BACK = "sent_back"


class HandoverEnd(StrEnum):
    COMPLETED = "completed"
    SENT_BACK = "sent_back"
    CANCELLED = "cancelled"


def emit(uow: UnitOfWork, dossier_code: str, type: str, payload: BaseModel, at: datetime) -> None:
    uow.emit(new_envelope(type=type, dossier_code=dossier_code, producer=PRODUCER, payload=payload, occurred_at=at))


def step_ref(step: Step) -> dict[str, Any]:
    """The fields every step event carries (shared.events.step.StepEvent)."""
    return {
        "step_id": uuid.UUID(step.id),
        "seq": step.seq,
        "attempt": max(step.attempt, 1),
        "step_key": step.key or None,
        "unit_code": step.unit_code,
        "unit_level": step.unit_level,
    }


def move(step: Step, action: StepAction, at: datetime) -> None:
    """Apply a lifecycle transition to the row (the caller has checked it is allowed)."""
    moved = transition(StepStatus(step.status), action, StepStatus(step.paused_from) if step.paused_from else None)
    step.status = moved.status.value
    step.paused_from = moved.paused_from.value if moved.paused_from else None
    step.changed_at = at
    step.updated_at = datetime.now(UTC)


async def load_route(session: AsyncSession, code: str) -> Route | None:
    return await session.get(Route, code)


async def load_steps(session: AsyncSession, code: str) -> list[Step]:
    return list((await session.exec(select(Step).where(Step.dossier_code == code).order_by(col(Step.seq)))).all())


async def current_handover(session: AsyncSession, step: Step) -> Handover:
    handover = await session.get(Handover, str(handover_id_for(step.id, step.attempt)))
    if handover is None:  # every assignment writes its handover: a missing one is a bug, not bad input
        raise LookupError(f"step {step.id} attempt {step.attempt} has no handover")
    return handover


async def _next_row_number(session: AsyncSession, code: str) -> int:
    last = (await session.exec(select(func.max(Handover.n)).where(Handover.dossier_code == code))).one()
    return int(last or 0) + 1


async def assign(
    uow: UnitOfWork,
    routing: Routing,
    step: Step,
    at: datetime,
    *,
    from_unit: tuple[str, str] | None,
    sent_back_reason: str | None = None,
) -> None:
    """Hand ``step`` over to its unit at ``at``: a new attempt, its deadline, a row on the slip, step.assigned."""
    move(step, StepAction.ASSIGN, at)
    step.attempt += 1
    step.assigned_at = at
    step.deadline_at = step_deadline(routing.calendar, at, step.budget_minutes, step.counts)
    step.accepted_at = step.paused_at = step.finished_at = None
    step.pause_kind = step.outcome = step.note = None
    step.overdue_when_paused = False
    uow.session.add(step)
    await uow.session.flush()  # the step's version check comes before any insert it guards
    from_code, from_level = from_unit or (None, None)
    handover = Handover(
        id=str(handover_id_for(step.id, step.attempt)),
        dossier_code=step.dossier_code,
        n=await _next_row_number(uow.session, step.dossier_code),
        step_id=step.id,
        seq=step.seq,
        attempt=step.attempt,
        step_key=step.key,
        step_name=step.name,
        kind=(HandoverKind.SENT_BACK if sent_back_reason is not None else HandoverKind.FORWARDED).value,
        from_unit_code=from_code,
        from_unit_level=from_level,
        to_unit_code=step.unit_code,
        to_unit_level=step.unit_level,
        handed_over_at=at,
        reason=sent_back_reason,
        deadline_at=step.deadline_at,
        external_system=step.external_system if step.external else None,
    )
    uow.session.add(handover)
    if step.external and step.external_system:  # its system gets it through the connector, after the commit
        await open_delivery(uow, routing, step, handover)
    emit(
        uow,
        step.dossier_code,
        "step.assigned",
        StepAssigned(
            step_id=uuid.UUID(step.id),
            seq=step.seq,
            from_unit_code=from_code,
            to_unit_code=step.unit_code,
            assigned_at=at,
            deadline_at=step.deadline_at,
            from_unit_level=from_level,
            to_unit_level=step.unit_level,
            attempt=step.attempt,
            step_key=step.key or None,
            sent_back=sent_back_reason is not None,
        ),
        at,
    )


def end_handover(handover: Handover, step: Step, ended: HandoverEnd, at: datetime) -> StepResult | None:
    """Close the slip row of the step's current attempt; early / on time / late when it had a deadline."""
    handover.finished_at = at
    handover.ended = ended.value
    handover.deadline_at = step.deadline_at
    result = timeliness(at, step.deadline_at) if step.deadline_at and ended != HandoverEnd.CANCELLED else None
    handover.result = result.value if result else None
    return result


def resolve(uow: UnitOfWork, route: Route, steps: list[Step], last: Step, at: datetime) -> None:
    """The route ends with ``last``'s outcome: steps still planned are skipped, dossier.resolved."""
    for step in steps:
        if step.status == StepStatus.PLANNED.value:
            move(step, StepAction.SKIP, at)
    route.status = RouteStatus.RESOLVED.value
    route.closed_at = at
    route.outcome = last.outcome
    emit(
        uow,
        route.dossier_code,
        "dossier.resolved",
        DossierResolved(
            resolved_at=at,
            resolving_unit_code=last.unit_code,
            resolving_unit_level=last.unit_level or None,
            outcome=last.outcome or "approved",
            note=last.note,
        ),
        at,
    )


async def close(uow: UnitOfWork, route: Route, status: RouteStatus, reason: str, at: datetime) -> None:
    """Withdrawn or stopped: every step not yet completed is cancelled, open ones' slip rows end."""
    for step in await load_steps(uow.session, route.dossier_code):
        when = max(at, _since(step))
        if StepStatus(step.status) in OPEN:
            end_handover(await current_handover(uow.session, step), step, HandoverEnd.CANCELLED, when)
        if step.status in (StepStatus.PLANNED.value, *OPEN):
            move(step, StepAction.CANCEL, when)
    route.status = status.value
    route.closed_at = at
    route.close_reason = reason


def _since(step: Step) -> datetime:
    """The earliest instant a new action on the step may have: not before its last one."""
    return step.changed_at or step.assigned_at or datetime.min.replace(tzinfo=UTC)


def pause(step: Step, action: StepAction, at: datetime) -> None:
    """The step waits for the citizen from ``at`` (not before its handover)."""
    at = max(at, _since(step))
    move(step, action, at)
    step.paused_at = at
    step.pause_kind = PAUSES[action].value
    step.overdue_when_paused = is_overdue(at, step.deadline_at)


async def resume_paused(uow: UnitOfWork, routing: Routing, code: str, kind: PauseKind, at: datetime) -> int:
    """The citizen supplied or paid: the steps paused for it run again, deadlines moved out."""
    resumed = 0
    for step in await load_steps(uow.session, code):
        if step.status != StepStatus.PAUSED.value or step.pause_kind != kind.value or step.paused_at is None:
            continue
        when = max(at, step.paused_at)
        moved = resume(routing.calendar, step.paused_at, when, step.deadline_at)
        move(step, StepAction.RESUME, when)
        step.deadline_at = moved.deadline_at
        step.paused_at = step.pause_kind = None
        step.overdue_when_paused = False
        handover = await current_handover(uow.session, step)
        handover.paused_minutes += moved.paused_minutes
        handover.deadline_at = step.deadline_at
        emit(
            uow,
            code,
            "step.resumed",
            StepResumed(
                **step_ref(step), resumed_at=when, paused_minutes=moved.paused_minutes, deadline_at=step.deadline_at
            ),
            when,
        )
        resumed += 1
    return resumed
