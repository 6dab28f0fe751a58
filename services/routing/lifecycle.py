"""The step lifecycle: which action is allowed in which status, where it leads, and where a step may be
sent back to. No I/O here.

    planned ─assign─▶ assigned ─accept─▶ accepted ─complete─▶ completed
                         │  ▲               │
                         │  └─── resume ────┤            (paused_for_citizen resumes to where it paused)
                         └─pause─▶ paused_for_citizen ◀─pause─┘

A send-back from an assigned or accepted step returns it to planned, and the earlier steps from the
target on (completed) to planned; the target is then assigned again as a new attempt. Withdrawal and
stop cancel every step not yet completed; a rejection skips the steps still planned.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class StepStatus(StrEnum):
    PLANNED = "planned"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    PAUSED = "paused_for_citizen"
    COMPLETED = "completed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


OPEN = frozenset({StepStatus.ASSIGNED, StepStatus.ACCEPTED, StepStatus.PAUSED})
RUNNING = frozenset({StepStatus.ASSIGNED, StepStatus.ACCEPTED})


class StepAction(StrEnum):
    ASSIGN = "assign"
    ACCEPT = "accept"
    COMPLETE = "complete"
    SEND_BACK = "send_back"
    REOPEN = "reopen"
    REQUEST_SUPPLEMENT = "request_supplement"
    SET_FINANCIAL_OBLIGATION = "set_financial_obligation"
    RESUME = "resume"
    REPORT_FAILURE = "report_failure"
    SKIP = "skip"
    CANCEL = "cancel"


class PauseKind(StrEnum):
    """What the citizen must do before the step runs again, and which intake event says it is done."""

    SUPPLEMENT = "supplement"
    FINANCIAL_OBLIGATION = "financial_obligation"


S = StepStatus
_FROM: dict[StepAction, frozenset[StepStatus]] = {
    StepAction.ASSIGN: frozenset({S.PLANNED}),
    StepAction.ACCEPT: frozenset({S.ASSIGNED}),
    StepAction.COMPLETE: frozenset({S.ACCEPTED}),
    StepAction.SEND_BACK: RUNNING,
    StepAction.REOPEN: frozenset({S.COMPLETED}),
    StepAction.REQUEST_SUPPLEMENT: RUNNING,
    StepAction.SET_FINANCIAL_OBLIGATION: RUNNING,
    StepAction.RESUME: frozenset({S.PAUSED}),
    StepAction.REPORT_FAILURE: OPEN,
    StepAction.SKIP: frozenset({S.PLANNED}),
    StepAction.CANCEL: frozenset({S.PLANNED, *OPEN}),
}
_TO: dict[StepAction, StepStatus | None] = {
    StepAction.ASSIGN: S.ASSIGNED,
    StepAction.ACCEPT: S.ACCEPTED,
    StepAction.COMPLETE: S.COMPLETED,
    StepAction.SEND_BACK: S.PLANNED,
    StepAction.REOPEN: S.PLANNED,
    StepAction.REQUEST_SUPPLEMENT: S.PAUSED,
    StepAction.SET_FINANCIAL_OBLIGATION: S.PAUSED,
    StepAction.RESUME: None,  # back to the status it paused from
    StepAction.REPORT_FAILURE: None,  # unchanged: the report is recorded on the handover
    StepAction.SKIP: S.SKIPPED,
    StepAction.CANCEL: S.CANCELLED,
}
PAUSES: dict[StepAction, PauseKind] = {
    StepAction.REQUEST_SUPPLEMENT: PauseKind.SUPPLEMENT,
    StepAction.SET_FINANCIAL_OBLIGATION: PauseKind.FINANCIAL_OBLIGATION,
}
# What the API offers a unit on its own step (the others follow from events or other steps' actions).
UNIT_ACTIONS = (
    StepAction.ACCEPT,
    StepAction.COMPLETE,
    StepAction.SEND_BACK,
    StepAction.REQUEST_SUPPLEMENT,
    StepAction.SET_FINANCIAL_OBLIGATION,
    StepAction.REPORT_FAILURE,
)


class IllegalTransition(ValueError):
    def __init__(self, current: StepStatus, action: StepAction) -> None:
        status = current.value.replace("_", " ")
        super().__init__(f"cannot {action.value.replace('_', ' ')} a step that is {status}")
        self.current = current
        self.action = action


@dataclass(frozen=True)
class Transition:
    status: StepStatus
    paused_from: StepStatus | None


def transition(current: StepStatus, action: StepAction, paused_from: StepStatus | None = None) -> Transition:
    """Where ``action`` takes a step in ``current``; ``paused_from`` is what a pause resumes to."""
    if current not in _FROM[action]:
        raise IllegalTransition(current, action)
    target = _TO[action]
    if action is StepAction.RESUME:
        return Transition(paused_from or S.ASSIGNED, None)
    if target is None:
        return Transition(current, paused_from)
    if action in PAUSES:
        return Transition(target, current)
    return Transition(target, None)


def allowed_actions(current: StepStatus) -> list[StepAction]:
    """The unit's actions the step's status allows now."""
    return [a for a in UNIT_ACTIONS if current in _FROM[a]]


class InvalidSendBack(ValueError):
    pass


def send_back_span(statuses: Mapping[int, StepStatus], from_seq: int, to_seq: int) -> list[int]:
    """The steps a send-back from ``from_seq`` to the earlier ``to_seq`` reopens: the target and every
    step after it up to the sender, all completed. They run again in order from the target."""
    if to_seq not in statuses:
        raise InvalidSendBack(f"the route has no step {to_seq}")
    if to_seq >= from_seq:
        raise InvalidSendBack(f"step {to_seq} is not before step {from_seq}: a step can only be sent back")
    span = list(range(to_seq, from_seq))
    unfinished = [seq for seq in span if statuses.get(seq) is not S.COMPLETED]
    if unfinished:
        raise InvalidSendBack(f"step {unfinished[0]} has not been completed, so it cannot be sent back to")
    return span


def next_seq(seqs: list[int], seq: int) -> int | None:
    """The step after ``seq`` in the route, or None if ``seq`` is the last."""
    later = sorted(s for s in seqs if s > seq)
    return later[0] if later else None
