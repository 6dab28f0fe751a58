"""The dossier lifecycle of DOMAIN.md's status table."""

from __future__ import annotations

import pytest

from services.intake.domain import DossierStatus as S
from services.intake.lifecycle import Action, IllegalTransition, allowed_actions, transition


def test_an_online_dossier_goes_from_submission_to_return() -> None:
    t = transition(S.SUBMITTED, Action.ACCEPT)
    assert t.status is S.ACCEPTED
    t = transition(t.status, Action.START_PROCESSING)
    assert t.status is S.IN_PROGRESS
    paused = transition(t.status, Action.REQUEST_SUPPLEMENT)
    assert (paused.status, paused.paused_from) == (S.SUPPLEMENT_REQUESTED, S.IN_PROGRESS)
    resumed = transition(paused.status, Action.SUPPLEMENT, paused.paused_from)
    assert (resumed.status, resumed.paused_from) == (S.IN_PROGRESS, None)
    owed = transition(resumed.status, Action.SET_FINANCIAL_OBLIGATION)
    assert transition(owed.status, Action.PAY, owed.paused_from).status is S.IN_PROGRESS
    assert transition(S.IN_PROGRESS, Action.RESOLVE).status is S.RESOLVED
    assert transition(S.RESOLVED, Action.RETURN_RESULT).status is S.RETURNED


def test_a_supplement_before_acceptance_returns_to_submitted() -> None:
    paused = transition(S.SUBMITTED, Action.REQUEST_SUPPLEMENT)
    assert transition(paused.status, Action.SUPPLEMENT, paused.paused_from).status is S.SUBMITTED


def test_a_pause_while_paused_keeps_withdrawal_and_stop_possible() -> None:
    paused = transition(S.ACCEPTED, Action.SET_FINANCIAL_OBLIGATION)
    assert transition(paused.status, Action.WITHDRAW, paused.paused_from).status is S.WITHDRAWN
    assert transition(paused.status, Action.STOP, paused.paused_from).status is S.STOPPED


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (S.ACCEPTED, Action.ACCEPT),
        (S.REFUSED, Action.ACCEPT),
        (S.RESOLVED, Action.WITHDRAW),
        (S.RETURNED, Action.RETURN_RESULT),
        (S.SUBMITTED, Action.RETURN_RESULT),
        (S.WITHDRAWN, Action.SUPPLEMENT),
        (S.IN_PROGRESS, Action.PAY),
        (S.STOPPED, Action.RESOLVE),
    ],
)
def test_illegal_transitions_say_what_the_dossier_is(status: S, action: Action) -> None:
    with pytest.raises(IllegalTransition) as err:
        transition(status, action)
    assert err.value.current is status
    assert status.value.replace("_", " ") in str(err.value)


def test_final_statuses_allow_nothing() -> None:
    for final in (S.REFUSED, S.WITHDRAWN, S.STOPPED, S.RETURNED):
        assert allowed_actions(final) == []
