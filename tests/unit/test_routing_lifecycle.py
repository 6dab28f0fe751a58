"""Routing's pure rules: the step lifecycle, send-back spans, deadlines, pauses and timeliness."""

from __future__ import annotations

from datetime import datetime

import pytest

from services.routing.domain import (
    RESULT_LABELS_VI,
    first_handover_at,
    handover_id_for,
    is_overdue,
    resume,
    step_deadline,
    step_id_for,
    time_left,
)
from services.routing.lifecycle import (
    OPEN,
    IllegalTransition,
    InvalidSendBack,
    StepAction,
    StepStatus,
    allowed_actions,
    next_seq,
    send_back_span,
    transition,
)
from shared.calendar import VIETNAM_TZ, vietnam_calendar
from shared.calendar.deadlines import timeliness
from shared.events.step import StepResult

CAL = vietnam_calendar()
S = StepStatus
A = StepAction


def vn(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=VIETNAM_TZ)


# --- lifecycle -------------------------------------------------------------------------------------------


def test_the_happy_path_is_planned_assigned_accepted_completed() -> None:
    status = S.PLANNED
    for action, expected in ((A.ASSIGN, S.ASSIGNED), (A.ACCEPT, S.ACCEPTED), (A.COMPLETE, S.COMPLETED)):
        status = transition(status, action).status
        assert status is expected


@pytest.mark.parametrize(
    ("current", "action"),
    [
        (S.PLANNED, A.ACCEPT),
        (S.PLANNED, A.COMPLETE),
        (S.ASSIGNED, A.COMPLETE),  # the unit acknowledges receipt first: the slip needs the time
        (S.COMPLETED, A.COMPLETE),
        (S.COMPLETED, A.ACCEPT),
        (S.COMPLETED, A.SEND_BACK),
        (S.PAUSED, A.COMPLETE),
        (S.PAUSED, A.SEND_BACK),
        (S.PAUSED, A.REQUEST_SUPPLEMENT),
        (S.CANCELLED, A.ACCEPT),
        (S.CANCELLED, A.CANCEL),
        (S.SKIPPED, A.ASSIGN),
        (S.ASSIGNED, A.ASSIGN),
        (S.ASSIGNED, A.RESUME),
    ],
)
def test_illegal_transitions_name_the_current_status(current: StepStatus, action: StepAction) -> None:
    with pytest.raises(IllegalTransition) as caught:
        transition(current, action)
    assert caught.value.current is current
    assert current.value.replace("_", " ") in str(caught.value)


@pytest.mark.parametrize("paused_from", [S.ASSIGNED, S.ACCEPTED])
@pytest.mark.parametrize("pause", [A.REQUEST_SUPPLEMENT, A.SET_FINANCIAL_OBLIGATION])
def test_a_pause_resumes_to_where_it_paused(paused_from: StepStatus, pause: StepAction) -> None:
    paused = transition(paused_from, pause)
    assert (paused.status, paused.paused_from) == (S.PAUSED, paused_from)
    resumed = transition(paused.status, A.RESUME, paused.paused_from)
    assert (resumed.status, resumed.paused_from) == (paused_from, None)


def test_a_failure_report_keeps_the_status_and_what_a_pause_resumes_to() -> None:
    assert transition(S.ACCEPTED, A.REPORT_FAILURE) == transition(S.ACCEPTED, A.REPORT_FAILURE, None)
    kept = transition(S.PAUSED, A.REPORT_FAILURE, S.ACCEPTED)
    assert (kept.status, kept.paused_from) == (S.PAUSED, S.ACCEPTED)
    with pytest.raises(IllegalTransition):
        transition(S.COMPLETED, A.REPORT_FAILURE)


def test_withdrawal_cancels_every_step_not_completed() -> None:
    for status in (S.PLANNED, *OPEN):
        assert transition(status, A.CANCEL).status is S.CANCELLED
    with pytest.raises(IllegalTransition):
        transition(S.COMPLETED, A.CANCEL)


def test_a_send_back_returns_the_sender_to_planned_and_reopens_completed_steps() -> None:
    assert transition(S.ACCEPTED, A.SEND_BACK).status is S.PLANNED
    assert transition(S.ASSIGNED, A.SEND_BACK).status is S.PLANNED
    assert transition(S.COMPLETED, A.REOPEN).status is S.PLANNED
    assert transition(S.PLANNED, A.ASSIGN).status is S.ASSIGNED


def test_the_actions_a_unit_is_offered() -> None:
    assert allowed_actions(S.ASSIGNED) == [
        A.ACCEPT,
        A.SEND_BACK,
        A.REQUEST_SUPPLEMENT,
        A.SET_FINANCIAL_OBLIGATION,
        A.REPORT_FAILURE,
    ]
    assert allowed_actions(S.ACCEPTED) == [
        A.COMPLETE,
        A.SEND_BACK,
        A.REQUEST_SUPPLEMENT,
        A.SET_FINANCIAL_OBLIGATION,
        A.REPORT_FAILURE,
    ]
    assert allowed_actions(S.PAUSED) == [A.REPORT_FAILURE]
    assert allowed_actions(S.COMPLETED) == allowed_actions(S.PLANNED) == []


def test_a_send_back_spans_the_target_to_the_sender() -> None:
    statuses = {1: S.COMPLETED, 2: S.COMPLETED, 3: S.COMPLETED, 4: S.ACCEPTED, 5: S.PLANNED}
    assert send_back_span(statuses, 4, 2) == [2, 3]
    assert send_back_span(statuses, 4, 3) == [3]
    assert send_back_span(statuses, 4, 1) == [1, 2, 3]


@pytest.mark.parametrize(
    ("to_seq", "message"),
    [(4, "not before"), (5, "not before"), (9, "no step 9"), (0, "no step 0")],
)
def test_a_send_back_goes_only_to_an_existing_earlier_step(to_seq: int, message: str) -> None:
    statuses = {1: S.COMPLETED, 2: S.COMPLETED, 3: S.COMPLETED, 4: S.ACCEPTED, 5: S.PLANNED}
    with pytest.raises(InvalidSendBack, match=message):
        send_back_span(statuses, 4, to_seq)


def test_a_send_back_past_an_unfinished_step_is_refused() -> None:
    with pytest.raises(InvalidSendBack, match="step 2 has not been completed"):
        send_back_span({1: S.COMPLETED, 2: S.SKIPPED, 3: S.ACCEPTED}, 3, 1)


def test_the_next_step_follows_the_sequence() -> None:
    assert next_seq([3, 1, 2], 1) == 2
    assert next_seq([1, 2, 3], 3) is None


# --- ids ----------------------------------------------------------------------------------------------------


def test_step_and_handover_ids_are_stable_and_distinct() -> None:
    step = step_id_for("H56.101-261123-0001", 2)
    assert step == step_id_for("H56.101-261123-0001", 2) != step_id_for("H56.101-261123-0001", 3)
    assert handover_id_for(step, 1) == handover_id_for(str(step), 1) != handover_id_for(step, 2)


# --- time ---------------------------------------------------------------------------------------------------


def test_a_dossier_accepted_after_15_00_is_forwarded_the_next_working_day() -> None:
    assert first_handover_at(CAL, vn(2026, 12, 7, 14, 59)) == vn(2026, 12, 7, 14, 59)
    assert first_handover_at(CAL, vn(2026, 12, 7, 15, 0)) == vn(2026, 12, 7, 15, 0)
    assert first_handover_at(CAL, vn(2026, 12, 7, 15, 1)) == vn(2026, 12, 8, 7, 0)
    assert first_handover_at(CAL, vn(2026, 12, 11, 16, 0)) == vn(2026, 12, 14, 7, 0)  # Friday → Monday


def test_a_counting_step_is_due_its_budget_in_working_minutes() -> None:
    # Half a day from Monday 14:00: 3 hours to 17:00, 1 hour on Tuesday.
    assert step_deadline(CAL, vn(2026, 12, 7, 14, 0), 240, True) == vn(2026, 12, 8, 8, 0)
    # 4 working days from Friday 09:00 ends on Thursday 09:00.
    assert step_deadline(CAL, vn(2026, 12, 11, 9, 0), 4 * 480, True) == vn(2026, 12, 17, 9, 0)
    assert step_deadline(CAL, vn(2026, 12, 7, 14, 0), 240, False) is None


def test_a_same_day_step_is_due_when_its_working_day_closes() -> None:
    assert step_deadline(CAL, vn(2026, 12, 7, 9, 0), 0, True) == vn(2026, 12, 7, 17, 0)
    assert step_deadline(CAL, vn(2026, 12, 7, 17, 0), 0, True) == vn(2026, 12, 8, 17, 0)  # after hours: next day
    assert step_deadline(CAL, vn(2026, 12, 12, 10, 0), 0, True) == vn(2026, 12, 14, 17, 0)  # Saturday → Monday


@pytest.mark.parametrize(
    ("finished", "expected"),
    [
        (vn(2026, 12, 8, 7, 59, 59), StepResult.EARLY),
        (vn(2026, 12, 8, 8, 0, 0), StepResult.ON_TIME),
        (vn(2026, 12, 8, 8, 0, 59), StepResult.ON_TIME),  # by minute: within the deadline's minute
        (vn(2026, 12, 8, 8, 1, 0), StepResult.LATE),
    ],
)
def test_timeliness_is_decided_by_minute(finished: datetime, expected: StepResult) -> None:
    deadline = vn(2026, 12, 8, 8, 0)
    assert timeliness(finished, deadline) is expected
    assert is_overdue(finished, deadline) is (expected is StepResult.LATE)
    assert RESULT_LABELS_VI[expected] in ("trước hạn", "đúng hạn", "quá hạn")


def test_a_pause_moves_the_deadline_by_the_paused_working_time() -> None:
    deadline = vn(2026, 12, 8, 16, 0)
    # Paused Monday 10:00, resumed Tuesday 09:00: 90 + 210 + 120 = 420 working minutes.
    moved = resume(CAL, vn(2026, 12, 7, 10, 0), vn(2026, 12, 8, 9, 0), deadline)
    assert moved.paused_minutes == 420
    assert moved.deadline_at == vn(2026, 12, 9, 15, 0)
    # A pause over a weekend night costs the unit nothing more than its working minutes.
    weekend = resume(CAL, vn(2026, 12, 11, 17, 0), vn(2026, 12, 14, 7, 0), deadline)
    assert (weekend.paused_minutes, weekend.deadline_at) == (0, deadline)
    # A deadline at a period's end stays there when nothing was paused.
    assert resume(CAL, vn(2026, 12, 8, 12, 0), vn(2026, 12, 8, 13, 0), vn(2026, 12, 8, 11, 30)).deadline_at == vn(
        2026, 12, 8, 11, 30
    )
    assert resume(CAL, vn(2026, 12, 7, 10, 0), vn(2026, 12, 8, 9, 0), None).deadline_at is None


def test_time_left_is_in_working_minutes_and_negative_when_overdue() -> None:
    deadline = vn(2026, 12, 8, 8, 0)
    left = time_left(CAL, vn(2026, 12, 7, 16, 0), deadline)
    assert left is not None and (left.minutes, left.hours, left.overdue) == (120, 2.0, False)
    late = time_left(CAL, vn(2026, 12, 8, 9, 30, 30), deadline)
    assert late is not None and (late.minutes, late.hours, late.overdue) == (-90, -1.5, True)
    # Frozen while paused: counted from the pause, whatever the time now.
    frozen = time_left(CAL, vn(2026, 12, 24, 9, 0), deadline, paused_at=vn(2026, 12, 7, 16, 0))
    assert frozen is not None and (frozen.minutes, frozen.overdue) == (120, False)
    assert time_left(CAL, vn(2026, 12, 7, 16, 0), None) is None
