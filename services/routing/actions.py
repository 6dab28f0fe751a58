"""The agencies' actions on a step: accept, complete, send back, request a supplement, set a financial
obligation, report a failed handover. Each changes one route's steps and emits its events in one unit
of work; the step's version column makes a concurrent second action fail (409)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from services.routing.access import may_act
from services.routing.commands import (
    HandoverEnd,
    assign,
    current_handover,
    emit,
    end_handover,
    load_route,
    load_steps,
    move,
    pause,
    resolve,
    step_ref,
)
from services.routing.context import Routing
from services.routing.lifecycle import (
    IllegalTransition,
    InvalidSendBack,
    StepAction,
    StepStatus,
    next_seq,
    send_back_span,
    transition,
)
from services.routing.schemas import (
    AcceptIn,
    CompleteIn,
    FailureIn,
    FinancialObligationIn,
    SendBackIn,
    StepOutcome,
    SupplementIn,
)
from services.routing.tables import Step
from shared.bus.unit_of_work import UnitOfWork
from shared.events.step import (
    HandoverFailed,
    StepAccepted,
    StepCompleted,
    StepFinancialObligationSet,
    StepSentBack,
    StepSupplementRequested,
)
from shared.web.audit import audit
from shared.web.auth import Principal
from shared.web.business_time import business_time
from shared.web.problems import Problem


def _invalid(field: str, detail: str) -> Problem:
    return Problem(422, "Invalid request", detail, errors=[{"source": "body", "field": field, "reason": detail}])


def _check_time(step: Step, at: datetime, back_dated: bool) -> None:
    """Actions never go back in time: not before the step's handover, nor before its last action."""
    for since, what in ((step.assigned_at, "its handover"), (step.changed_at, "its last action")):
        if since is None or at >= since:
            continue
        if back_dated:
            raise _invalid("occurred_at", f"occurred_at is before the step's {what} ({since.isoformat()})")
        raise Problem(
            409,
            "Not handed over yet" if since == step.assigned_at else "Not allowed yet",
            f"The step is handed over to unit {step.unit_code} at {since.isoformat()}; act after it.",
            step_status=step.status,
            available_from=since.isoformat(),
        )


async def _open(
    uow: UnitOfWork, principal: Principal, step_id: str, occurred_at: datetime | None, action: StepAction
) -> tuple[Step, datetime]:
    """Load the step the key may act on, check the action is allowed in its status, and when it happens."""
    at = business_time(principal.has("import"), occurred_at)
    step = await uow.session.get(Step, step_id)
    if step is None:
        raise Problem(404, "Step not found", f"No step has the id {step_id!r}.")
    if not may_act(principal, step.unit_code):
        raise Problem(403, "Forbidden", f"This API key may not act on the steps of unit {step.unit_code}.")
    current = StepStatus(step.status)
    try:
        transition(current, action)
    except IllegalTransition as exc:
        raise Problem(409, "Not allowed in this status", str(exc), step_status=current.value) from exc
    _check_time(step, at, occurred_at is not None)
    return step, at


def _record(uow: UnitOfWork, principal: Principal, step: Step, type: str, payload: BaseModel, at: datetime) -> None:
    emit(uow, step.dossier_code, type, payload, at)
    audit(uow, principal, type, step.dossier_code, step_id=step.id, seq=step.seq, attempt=step.attempt)


async def _flush(uow: UnitOfWork, step: Step) -> None:
    """Write the step first: its version check decides a race before anything it guards is written."""
    uow.session.add(step)
    await uow.session.flush()


async def accept(uow: UnitOfWork, routing: Routing, principal: Principal, step_id: str, body: AcceptIn) -> Step:
    step, at = await _open(uow, principal, step_id, body.occurred_at, StepAction.ACCEPT)
    move(step, StepAction.ACCEPT, at)
    step.accepted_at = at
    if body.note:
        step.note = body.note
    await _flush(uow, step)
    (await current_handover(uow.session, step)).accepted_at = at
    _record(uow, principal, step, "step.accepted", StepAccepted(**step_ref(step), accepted_at=at), at)
    return step


async def complete(uow: UnitOfWork, routing: Routing, principal: Principal, step_id: str, body: CompleteIn) -> Step:
    """Finish the step; the next one is handed over at once, or the dossier is resolved (the last step, or a
    rejection)."""
    step, at = await _open(uow, principal, step_id, body.occurred_at, StepAction.COMPLETE)
    move(step, StepAction.COMPLETE, at)
    step.finished_at = at
    step.outcome = body.outcome.value
    step.note = body.note
    await _flush(uow, step)
    handover = await current_handover(uow.session, step)
    result = end_handover(handover, step, HandoverEnd.COMPLETED, at)
    handover.outcome, handover.note = step.outcome, step.note
    assert step.assigned_at is not None
    payload = StepCompleted(
        **step_ref(step),
        outcome=step.outcome,
        note=step.note,
        assigned_at=step.assigned_at,
        finished_at=at,
        deadline_at=step.deadline_at,
        result=result,
        paused_minutes=handover.paused_minutes,
    )
    _record(uow, principal, step, "step.completed", payload, at)
    route = await load_route(uow.session, step.dossier_code)
    assert route is not None
    steps = await load_steps(uow.session, step.dossier_code)
    following = next_seq([s.seq for s in steps], step.seq)
    if body.outcome is StepOutcome.REJECTED or following is None:
        resolve(uow, route, steps, step, at)
    else:
        nxt = next(s for s in steps if s.seq == following)
        await assign(uow, routing, nxt, at, from_unit=(step.unit_code, step.unit_level))
    return step


def _target_seq(steps: list[Step], body: SendBackIn) -> tuple[int, str]:
    if (body.to_step_key is None) == (body.to_seq is None):
        raise _invalid("to_step_key", "name the earlier step by to_step_key or by to_seq (one of them)")
    if body.to_seq is not None:
        return body.to_seq, "to_seq"
    found = [s.seq for s in steps if s.key == body.to_step_key]
    if not found:
        raise _invalid("to_step_key", f"the route has no step {body.to_step_key!r}")
    return found[0], "to_step_key"


def _reopen(step: Step, at: datetime) -> None:
    """Back to planned, its current state cleared (its history stays on the slip)."""
    step.assigned_at = step.accepted_at = step.deadline_at = step.finished_at = step.paused_at = None
    step.outcome = step.note = step.pause_kind = None
    step.changed_at = at


async def send_back(uow: UnitOfWork, routing: Routing, principal: Principal, step_id: str, body: SendBackIn) -> Step:
    """Hand the dossier back to a named earlier step, which is assigned again as a new attempt; the steps
    between run again after it."""
    step, at = await _open(uow, principal, step_id, body.occurred_at, StepAction.SEND_BACK)
    steps = await load_steps(uow.session, step.dossier_code)
    to_seq, field = _target_seq(steps, body)
    try:
        span = send_back_span({s.seq: StepStatus(s.status) for s in steps}, step.seq, to_seq)
    except InvalidSendBack as exc:
        raise _invalid(field, str(exc)) from exc
    sender = step_ref(step)
    handover = await current_handover(uow.session, step)
    move(step, StepAction.SEND_BACK, at)
    await _flush(uow, step)
    end_handover(handover, step, HandoverEnd.SENT_BACK, at)
    handover.note = body.reason
    _reopen(step, at)
    by_seq = {s.seq: s for s in steps}
    for seq in span:
        move(by_seq[seq], StepAction.REOPEN, at)
        _reopen(by_seq[seq], at)
    target = by_seq[to_seq]
    payload = StepSentBack(
        **sender,
        reason=body.reason,
        to_step_id=uuid.UUID(target.id),
        to_seq=target.seq,
        to_step_key=target.key or None,
        to_unit_code=target.unit_code,
        to_unit_level=target.unit_level,
        sent_back_at=at,
    )
    _record(uow, principal, step, "step.sent_back", payload, at)
    await assign(uow, routing, target, at, from_unit=(step.unit_code, step.unit_level), sent_back_reason=body.reason)
    return step


async def request_supplement(
    uow: UnitOfWork, routing: Routing, principal: Principal, step_id: str, body: SupplementIn
) -> Step:
    step, at = await _open(uow, principal, step_id, body.occurred_at, StepAction.REQUEST_SUPPLEMENT)
    pause(step, StepAction.REQUEST_SUPPLEMENT, at)
    await _flush(uow, step)
    payload = StepSupplementRequested(**step_ref(step), items=body.items, reason=body.reason)
    _record(uow, principal, step, "step.supplement_requested", payload, at)
    return step


async def set_financial_obligation(
    uow: UnitOfWork, routing: Routing, principal: Principal, step_id: str, body: FinancialObligationIn
) -> Step:
    step, at = await _open(uow, principal, step_id, body.occurred_at, StepAction.SET_FINANCIAL_OBLIGATION)
    pause(step, StepAction.SET_FINANCIAL_OBLIGATION, at)
    await _flush(uow, step)
    payload = StepFinancialObligationSet(
        **step_ref(step), items=body.items, amount_vnd=body.amount_vnd, reason=body.reason
    )
    _record(uow, principal, step, "step.financial_obligation_set", payload, at)
    return step


async def report_failure(
    uow: UnitOfWork, routing: Routing, principal: Principal, step_id: str, body: FailureIn
) -> Step:
    """The receiving unit says the handover reached it broken or late: kept on the slip row, handover.failed."""
    step, at = await _open(uow, principal, step_id, body.occurred_at, StepAction.REPORT_FAILURE)
    handover = await current_handover(uow.session, step)
    if handover.failure_reported_at is not None:
        raise Problem(
            409,
            "Already reported",
            f"A failure of this handover was reported at {handover.failure_reported_at.isoformat()}.",
            step_status=step.status,
        )
    move(step, StepAction.REPORT_FAILURE, at)  # status unchanged; the version moves, so races still lose
    await _flush(uow, step)
    handover.failure_reported_at = at
    handover.failure_reported_by = step.unit_code
    handover.failure_reason = body.reason
    payload = HandoverFailed(
        **step_ref(step),
        from_unit_code=handover.from_unit_code,
        from_unit_level=handover.from_unit_level,
        handed_over_at=handover.handed_over_at,
        reported_at=at,
        reason=body.reason,
        reported_by="unit",
        external_system=handover.external_system,
    )
    _record(uow, principal, step, "handover.failed", payload, at)
    return step
