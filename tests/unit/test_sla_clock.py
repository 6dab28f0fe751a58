"""sla's rules on histories built by hand: appointments, pauses, steps not counted, step deadlines,
outcomes, attribution and timers. Instants are Vietnam time; a working day is 07:00–11:30 and 13:30–17:00."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.sla.attribution import overruns, responsible
from services.sla.clock import DossierClock, project
from services.sla.facts import Fact
from services.sla.timers import (
    APOLOGY,
    DOSSIER_DUE_SOON,
    DOSSIER_OVERDUE,
    STEP_DUE_SOON,
    STEP_OVERDUE,
    TimerPolicy,
    proposed_appointment,
    timers,
)
from shared.calendar import vietnam_calendar
from shared.events.clock import AppointmentChange, AppointmentChanged, Party, PauseKind
from shared.events.step import StepResult
from tests.support.sla_history import History, PlanStep, vn

CAL = vietnam_calendar()
COMMUNE = PlanStep("H56.101", "commune", 480, name="Tiếp nhận, thẩm định")
DISTRICT = PlanStep("H56.10", "district", 960, name="Phê duyệt")
MON = vn(2026, 3, 9, 8)  # Monday 9 March 2026, 08:00
APPOINTMENT = vn(2026, 3, 12, 8)  # + 3 working days


def two_steps() -> History:
    h = History().accepted(MON, APPOINTMENT)
    return h.planned(MON, COMMUNE, DISTRICT).assigned(1, MON)


def at(h: History, when: datetime, by: str = "minute") -> DossierClock:
    clock = project(h.code, h.facts, CAL, when, by)  # type: ignore[arg-type]
    assert clock is not None
    return clock


def test_the_appointment_is_three_working_days_from_the_start() -> None:
    assert CAL.add_working_minutes(MON, 1440) == APPOINTMENT


def test_a_step_overrun_is_the_units_and_the_outcome_depends_on_the_granularity() -> None:
    h = two_steps().completed(1, vn(2026, 3, 9, 16), MON).assigned(2, vn(2026, 3, 9, 16), 1)
    h.completed(2, vn(2026, 3, 12, 9), vn(2026, 3, 9, 16)).resolved(vn(2026, 3, 12, 9))
    end = vn(2026, 3, 13)
    by_minute, by_date = at(h, end, "minute"), at(h, end, "date")
    s1, s2 = by_minute.attempts
    assert (s1.deadline_at, s1.result) == (vn(2026, 3, 10, 8), StepResult.EARLY)
    assert (s2.deadline_at, s2.result) == (vn(2026, 3, 11, 16), StepResult.LATE)
    assert (s2.overrun_minutes, s2.interconnection_overrun_minutes) == (180, 0)
    assert by_minute.outcome is StepResult.LATE  # 09:00 is after 08:00 …
    assert by_date.outcome is StepResult.ON_TIME  # … on the appointment's date
    party = responsible(by_minute)
    assert party is not None
    assert (party.party, party.unit_code, party.level, party.minutes) == (Party.UNIT, "H56.10", "district", 180)
    assert responsible(by_date) is None  # on time: nobody to blame
    assert by_minute.state == "resolved" and by_minute.used_minutes == 1500


def test_a_supplement_moves_the_appointment_and_the_running_step_out_by_the_paused_working_time() -> None:
    h = two_steps().completed(1, vn(2026, 3, 9, 16), MON).assigned(2, vn(2026, 3, 9, 16), 1)
    h.supplement(vn(2026, 3, 10, 8))
    paused = at(h, vn(2026, 3, 10, 10))
    assert paused.state == "paused" and paused.open_exclusion is PauseKind.SUPPLEMENT
    assert paused.appointment_at == APPOINTMENT  # frozen while the pause lasts
    assert paused.left_minutes == 1440 - 420 - 60  # as it stood when the pause began
    assert not paused.overdue and paused.attempts[1].paused_now
    h.supplemented(vn(2026, 3, 10, 14))
    resumed = at(h, vn(2026, 3, 10, 15))
    assert resumed.paused_minutes == 240  # 08:00–11:30 and 13:30–14:00
    assert resumed.appointment_at == vn(2026, 3, 12, 14)
    assert resumed.attempts[1].deadline_at == vn(2026, 3, 12, 10)
    h.completed(2, vn(2026, 3, 12, 9), vn(2026, 3, 9, 16)).resolved(vn(2026, 3, 12, 9))
    done = at(h, vn(2026, 3, 13))
    assert done.outcome is StepResult.EARLY and done.attempts[1].result is StepResult.EARLY
    assert overruns(done) == []


def test_a_pause_across_tet_counts_only_working_days() -> None:
    # Thu 12/2 14:00 + 3 working days → Tue 24/2 14:00 (Tết: Mon 16 – Fri 20 Feb 2026 off).
    start = vn(2026, 2, 12, 14)
    h = History().accepted(start, vn(2026, 2, 24, 14)).planned(start, COMMUNE, DISTRICT).assigned(1, start)
    h.supplement(vn(2026, 2, 13, 10)).supplemented(vn(2026, 2, 23, 10))
    clock = at(h, vn(2026, 2, 23, 11))
    assert clock.paused_minutes == 300 + 180  # Fri 10:00–17:00, Mon 23 07:00–10:00
    assert clock.appointment_at == vn(2026, 2, 25, 14)


def test_a_step_not_counted_has_no_deadline_and_moves_the_appointment() -> None:
    tax = PlanStep("H56.T", "tax", 1440, counts=False, name="Xác định nghĩa vụ tài chính")
    h = History().accepted(MON, APPOINTMENT).planned(MON, COMMUNE, tax, DISTRICT).assigned(1, MON)
    h.completed(1, vn(2026, 3, 9, 16), MON).assigned(2, vn(2026, 3, 9, 16), 1)
    during = at(h, vn(2026, 3, 11, 9))
    assert during.state == "paused" and during.open_exclusion is PauseKind.NOT_COUNTED_STEP
    assert during.attempts[1].deadline_at is None and not during.overdue
    h.completed(2, vn(2026, 3, 12, 16), vn(2026, 3, 9, 16)).assigned(3, vn(2026, 3, 12, 16), 2)
    after = at(h, vn(2026, 3, 12, 16, 30))
    assert after.state == "running"
    # Mon 16:00 – Thu 16:00 is 60 + 480 + 480 + 420 = 1440 working minutes excluded.
    assert after.excluded_minutes == 1440
    assert after.appointment_at == CAL.add_working_minutes(APPOINTMENT, 1440)


def test_time_lost_in_an_unacknowledged_handover_is_the_interconnections() -> None:
    land = PlanStep("H56.VPDK.01", "land_office", 960, name="Thẩm định hồ sơ địa chính")
    h = History().accepted(MON, APPOINTMENT).planned(MON, COMMUNE, land).assigned(1, MON)
    handed = vn(2026, 3, 9, 16)
    h.completed(1, handed, MON).assigned(2, handed, 1)
    h.unacknowledged(2, handed, vn(2026, 3, 10, 9)).acknowledged(2, handed, vn(2026, 3, 11, 10))
    h.completed(2, vn(2026, 3, 12, 9), handed).resolved(vn(2026, 3, 12, 9))
    clock = at(h, vn(2026, 3, 13))
    step = clock.attempts[1]
    assert step.interconnection_minutes == 60 + 480 + 180
    assert (step.overrun_minutes, step.interconnection_overrun_minutes) == (0, 180)
    party = responsible(clock)
    assert party is not None and (party.party, party.level, party.unit_code) == (
        Party.INTERCONNECTION,
        "interconnection",
        "H56.VPDK.01",
    )


def test_an_unacknowledged_handover_stops_costing_once_the_unit_takes_the_step_in_hand() -> None:
    land = PlanStep("H56.VPDK.01", "land_office", 960, name="Thẩm định hồ sơ địa chính")
    h = History().accepted(MON, APPOINTMENT).planned(MON, COMMUNE, land).assigned(1, MON)
    handed = vn(2026, 3, 9, 16)
    h.completed(1, handed, MON).assigned(2, handed, 1).unacknowledged(2, handed, vn(2026, 3, 9, 16, 30))
    h.step_accepted(2, vn(2026, 3, 10, 10))  # the unit accepted through the API; the system never answered
    h.completed(2, vn(2026, 3, 13, 10), handed)
    step = at(h, vn(2026, 3, 14)).attempts[1]
    assert step.interconnection_minutes == 60 + 180  # Mon 16:00–17:00, Tue 07:00–10:00
    assert step.interconnection_overrun_minutes == 240
    assert step.overrun_minutes == 60 + 480 + 180 - 240  # Wed 16:00 → Fri 10:00, less the lost time


def test_a_failed_handover_splits_the_overrun_between_the_interconnection_and_the_unit() -> None:
    h = two_steps()
    h.completed(1, vn(2026, 3, 9, 16), MON).assigned(2, vn(2026, 3, 9, 16), 1)
    h.failed(2, vn(2026, 3, 9, 16), vn(2026, 3, 10, 8))  # 60 + 60 working minutes lost
    h.completed(2, vn(2026, 3, 12, 11), vn(2026, 3, 9, 16))
    step = at(h, vn(2026, 3, 13)).attempts[1]
    assert step.interconnection_minutes == 120
    assert step.interconnection_overrun_minutes == 120
    assert step.overrun_minutes == 60 + 240 - 120  # Wed 16:00–17:00 and Thu 07:00–11:00, less the lost time


@pytest.mark.parametrize(("finish", "who"), [(vn(2026, 3, 12, 14), "H56.10"), (vn(2026, 3, 12, 13, 45), "H56.101")])
def test_the_largest_overrun_is_responsible_and_a_tie_goes_to_the_later_step(finish: datetime, who: str) -> None:
    h = two_steps().completed(1, vn(2026, 3, 10, 10), MON).assigned(2, vn(2026, 3, 10, 10), 1)
    h.completed(2, finish, vn(2026, 3, 10, 10)).resolved(finish)
    clock = at(h, vn(2026, 3, 13))
    assert [o.minutes for o in overruns(clock)] == [120, 120 if who == "H56.10" else 105]
    party = responsible(clock)
    assert party is not None and party.unit_code == who


def test_a_dossier_overdue_in_progress_is_charged_to_the_running_step() -> None:
    h = two_steps().completed(1, vn(2026, 3, 9, 16), MON).assigned(2, vn(2026, 3, 9, 16), 1)
    clock = at(h, vn(2026, 3, 12, 10))
    assert clock.overdue and clock.attempts[1].overdue
    assert clock.left_minutes == -120
    party = responsible(clock)
    assert party is not None and (party.unit_code, party.minutes) == ("H56.10", 240)
    assert not at(h, vn(2026, 3, 11, 15)).overdue


def test_the_one_reset_replaces_the_appointment_and_later_pauses_move_the_new_one() -> None:
    h = two_steps()
    new = vn(2026, 3, 16, 17)
    h.add(
        "dossier.appointment_changed",
        vn(2026, 3, 10, 9),
        AppointmentChanged(appointment_at=new, previous_appointment_at=APPOINTMENT, change=AppointmentChange.RESET),
    )
    h.supplement(vn(2026, 3, 11, 7)).supplemented(vn(2026, 3, 11, 8))
    clock = at(h, vn(2026, 3, 11, 9))
    assert clock.reset_at == vn(2026, 3, 10, 9)
    assert clock.appointment_at == CAL.add_working_minutes(new, 60)


def test_a_withdrawn_dossier_ends_without_an_outcome_and_closes_its_open_step() -> None:
    h = two_steps().withdrawn(vn(2026, 3, 10, 9))
    clock = at(h, vn(2026, 3, 20))
    assert clock.state == "withdrawn" and clock.outcome is None and not clock.overdue
    assert clock.attempts[0].end == "closed" and clock.attempts[0].result is None
    assert responsible(clock) is None


def test_timers_of_a_running_step_and_of_the_dossier() -> None:
    h = two_steps().completed(1, vn(2026, 3, 9, 16), MON).assigned(2, vn(2026, 3, 9, 16), 1)
    clock = at(h, vn(2026, 3, 10, 9))
    found = {t.kind: t.due_at for t in timers(clock, CAL, TimerPolicy())}
    assert found == {
        STEP_DUE_SOON: vn(2026, 3, 10, 16),  # one working day before Wed 16:00
        STEP_OVERDUE: vn(2026, 3, 11, 16, 1),
        DOSSIER_DUE_SOON: vn(2026, 3, 11, 15),  # three working hours before Thu 08:00
        DOSSIER_OVERDUE: vn(2026, 3, 12, 8, 1),
        APOLOGY: vn(2026, 3, 12, 8, 1),  # the last step: only the appointment itself
    }
    assert timers(at(h.supplement(vn(2026, 3, 10, 9, 30)), vn(2026, 3, 10, 10)), CAL, TimerPolicy()) == []


def test_an_apology_is_due_as_soon_as_the_remaining_budgets_cannot_fit() -> None:
    # Step 1 starts two working days late (handed over Wed): its deadline plus step 2's budget passes Thu 08:00.
    h = History().accepted(MON, APPOINTMENT).planned(MON, COMMUNE, DISTRICT).assigned(1, vn(2026, 3, 11, 8))
    clock = at(h, vn(2026, 3, 11, 9))
    found = {t.kind: t.due_at for t in timers(clock, CAL, TimerPolicy())}
    assert found[APOLOGY] == vn(2026, 3, 11, 8)
    assert proposed_appointment(clock, CAL, vn(2026, 3, 11, 9)) == CAL.add_working_minutes(vn(2026, 3, 12, 8), 960)
    gap = [o for o in overruns(clock) if o.party is Party.INTERCONNECTION]
    assert [o.minutes for o in gap] == [960]  # Mon 08:00 – Wed 08:00: the handover never came


def _summary(clock: DossierClock) -> tuple[object, ...]:
    return (
        clock.state,
        clock.appointment_at,
        clock.outcome,
        clock.used_minutes,
        clock.paused_minutes,
        [
            (a.ref, a.deadline_at, a.result, a.overrun_minutes, a.interconnection_overrun_minutes)
            for a in clock.attempts
        ],
        responsible(clock),
    )


def full_history() -> History:
    h = two_steps().supplement(vn(2026, 3, 9, 10)).supplemented(vn(2026, 3, 9, 14))
    h.completed(1, vn(2026, 3, 10, 15), MON).assigned(2, vn(2026, 3, 10, 15), 1)
    h.failed(2, vn(2026, 3, 10, 15), vn(2026, 3, 10, 16))
    h.completed(2, vn(2026, 3, 13, 10), vn(2026, 3, 10, 15)).resolved(vn(2026, 3, 13, 10))
    return h


@settings(max_examples=60, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(min_value=0, max_value=5 * 24 * 60))
def test_the_clock_does_not_depend_on_the_order_events_arrived_in(rng: random.Random, minutes_in: int) -> None:
    h = full_history()
    arrival = list(range(len(h.facts)))
    rng.shuffle(arrival)
    shuffled = [Fact(f.type, f.occurred_at, f.payload, arrival[i]) for i, f in enumerate(h.facts)]
    when = MON + timedelta(minutes=minutes_in)
    live = project(h.code, shuffled, CAL, when)
    replayed = project(h.code, h.facts, CAL, when)
    assert (live is None) == (replayed is None)
    if live is not None and replayed is not None:
        assert _summary(live) == _summary(replayed)
