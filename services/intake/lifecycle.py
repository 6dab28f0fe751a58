"""The dossier lifecycle: which action is allowed in which status, and where it leads. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from services.intake.domain import DossierStatus as S


class Action(StrEnum):
    ACCEPT = "accept"
    REFUSE = "refuse"
    REQUEST_SUPPLEMENT = "request_supplement"
    SUPPLEMENT = "supplement"
    SET_FINANCIAL_OBLIGATION = "set_financial_obligation"
    PAY = "pay"
    WITHDRAW = "withdraw"
    STOP = "stop"
    START_PROCESSING = "start_processing"
    RESOLVE = "resolve"
    RETURN_RESULT = "return_result"


_OPEN = {S.ACCEPTED, S.IN_PROGRESS}
_FROM: dict[Action, set[S]] = {
    Action.ACCEPT: {S.SUBMITTED},
    Action.REFUSE: {S.SUBMITTED},
    # Before acceptance a supplement slip is issued and no clock runs; after it, the clock pauses.
    Action.REQUEST_SUPPLEMENT: {S.SUBMITTED, *_OPEN},
    Action.SUPPLEMENT: {S.SUPPLEMENT_REQUESTED},
    Action.SET_FINANCIAL_OBLIGATION: _OPEN,
    Action.PAY: {S.FINANCIAL_OBLIGATION},
    Action.WITHDRAW: {S.SUBMITTED, S.SUPPLEMENT_REQUESTED, S.FINANCIAL_OBLIGATION, *_OPEN},
    Action.STOP: {S.SUPPLEMENT_REQUESTED, S.FINANCIAL_OBLIGATION, *_OPEN},
    Action.START_PROCESSING: {S.ACCEPTED},
    Action.RESOLVE: _OPEN,
    Action.RETURN_RESULT: {S.RESOLVED},
}
_TO: dict[Action, S | None] = {
    Action.ACCEPT: S.ACCEPTED,
    Action.REFUSE: S.REFUSED,
    Action.REQUEST_SUPPLEMENT: S.SUPPLEMENT_REQUESTED,
    Action.SUPPLEMENT: None,  # back to the status it was paused from
    Action.SET_FINANCIAL_OBLIGATION: S.FINANCIAL_OBLIGATION,
    Action.PAY: None,
    Action.WITHDRAW: S.WITHDRAWN,
    Action.STOP: S.STOPPED,
    Action.START_PROCESSING: S.IN_PROGRESS,
    Action.RESOLVE: S.RESOLVED,
    Action.RETURN_RESULT: S.RETURNED,
}
_PAUSING = {Action.REQUEST_SUPPLEMENT, Action.SET_FINANCIAL_OBLIGATION}


class IllegalTransition(ValueError):
    def __init__(self, current: S, action: Action) -> None:
        super().__init__(f"cannot {action.value.replace('_', ' ')} a dossier that is {current.value.replace('_', ' ')}")
        self.current = current
        self.action = action


@dataclass(frozen=True)
class Transition:
    status: S
    paused_from: S | None


def transition(current: S, action: Action, paused_from: S | None = None) -> Transition:
    """Where ``action`` takes a dossier in ``current``; ``paused_from`` is what a pause will resume to."""
    if current not in _FROM[action]:
        raise IllegalTransition(current, action)
    target = _TO[action]
    if target is None:
        return Transition(paused_from or S.IN_PROGRESS, None)
    if action in _PAUSING:
        return Transition(target, current)
    return Transition(target, paused_from if target in (S.SUPPLEMENT_REQUESTED, S.FINANCIAL_OBLIGATION) else None)


def allowed_actions(current: S) -> list[Action]:
    return [a for a, sources in _FROM.items() if current in sources]
