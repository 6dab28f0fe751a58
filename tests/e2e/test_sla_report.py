"""A quarter of dossiers end to end, over real HTTP, broker and databases: intake files and pauses them,
routing's agencies act on their steps, all at back-dated instants (an ``import``-scoped key); sla's
quarterly report for 2026Q1 is then checked number by number against figures worked out by hand from the
rules (docs in services/sla/report.py, clock.py, attribution.py), in JSON, CSV and XLSX, at the quarter's
end and as it stood mid-quarter; with the clocks, the process control slip, the one appointment reset and
the apology slip of the dossiers that exercise them.

Working time: 07:00–11:30 and 13:30–17:00 Vietnam time, 480 minutes a day. Days off around the quarter:
Thu 1 and Fri 2 Jan 2026 (Sat 10 Jan is worked in exchange), Tết Mon 16 – Fri 20 Feb 2026, and in the
second half of 2025 Mon 1 and Tue 2 Sep. Outcomes of dossiers compare dates (the default ``outcome_by``);
steps compare minutes.

sla's timer sweep is slowed to once an hour (``LIENTHONG_SLA_SWEEP_INTERVAL_S=3600``): back-dated
dossiers would otherwise have their apology timers fire as soon as they are written, racing the
scenario; the only apology is the one the desk records through the appointment reset.

The failed handover is made with routing's ``report-failure`` action, back-dated. The unacknowledged
path (an external step the sandbox system never acknowledges) is not used: routing's connector stamps
``handover.unacknowledged`` with the instant it notices (today), not with the back-dated handover's
acknowledgement deadline, so a report of a past quarter, which reads facts up to its end, never sees
it; and every external step of a back-dated dossier races that watcher. The scenario's dossiers
therefore avoid external steps.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from openpyxl import load_workbook

from services.devstack import DevStack
from tests.support.dossier_api import api, ok, problem
from tests.support.infra import Broker
from tests.support.routing_api import act, at, routed, step, vn, wait_status
from tests.support.sla_api import clock, report, sla, wait_clock
from tests.support.stacks import running_stack
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

IMPORTER = "importer"
KEYS = {IMPORTER: ["import", "read"]}
SLOW_SWEEP = {"LIENTHONG_SLA_SWEEP_INTERVAL_S": "3600"}
APPLICANT = {"full_name": "Trần Thị Mai", "phone": "0912345678"}

# Procedures of the sample catalogue.
MARITAL = "1.004873.000.00.00.H56"  # one-stop, 3 working days, at the commune; in person, online, postal
HOUSEHOLD = "2.000575.000.00.00.H56"  # one-stop, 3 working days, at the commune (two-level map)
RESIDENCE = "1.004194.000.00.00.H56"  # one-stop, 7 working days, at the police
SOCIAL = "1.001776.000.00.00.H56"  # interconnected, 20 working days (routes/social-assistance.yaml)

# Units. One-stop dossiers get one step, "decide", at the receiving unit with the statutory time as budget.
WARD = "H56.101"  # Phường Sơn Hà, commune level (two-level map)
POLICE = "H56.101.CA"  # Công an phường Sơn Hà, police level
OLD_WARD, OLD_LABOUR, OLD_CITY = "H56.14.01", "H56.14.LDTBXH", "H56.14"  # three-level map, until 30 June 2025

PERIOD = "2026Q1"
Q1_START, Q1_END = vn(2026, 1, 1), vn(2026, 4, 1)
MID_QUARTER = vn(2026, 2, 13, 12, 0)  # Friday noon, before Tết


# ---- driving the public APIs at back-dated instants -------------------------------------------------------


def file(stack: DevStack, procedure: str, unit: str, channel: str, accepted_at: datetime) -> str:
    """The import key files at a desk's unit: the dossier is accepted at once, at ``accepted_at``."""
    body = {
        "procedure_code": procedure,
        "receiving_unit_code": unit,
        "channel": channel,
        "applicant": APPLICANT,
        "occurred_at": accepted_at.isoformat(),
    }
    with api(stack, stack.key(IMPORTER)) as c:
        return str(ok(c.post("/v1/dossiers", json=body), 201)["code"])


def desk(stack: DevStack, code: str, action: str, when: datetime, **body: Any) -> dict[str, Any]:
    """An intake action (``supplement-requests``, ``withdraw``, ``return``…) at ``when``."""
    with api(stack, stack.key(IMPORTER)) as c:
        return ok(c.post(f"/v1/dossiers/{code}/{action}", json={**body, "occurred_at": when.isoformat()}))


def step_ids(stack: DevStack, code: str) -> list[str]:
    return [s["step_id"] for s in routed(stack, code)["steps"]]


def on_step(stack: DevStack, step_id: str, action: str, when: datetime, **body: Any) -> Any:
    return act(stack, stack.key(IMPORTER), step_id, action, {**body, "occurred_at": when.isoformat()})


def run(stack: DevStack, step_id: str, accepted: datetime, completed: datetime) -> None:
    """The unit accepts its step and completes it (approved): the next step is handed over then."""
    on_step(stack, step_id, "accept", accepted)
    on_step(stack, step_id, "complete", completed, outcome="approved")


def wait_step(stack: DevStack, step_id: str, status: str) -> None:
    wait_until(lambda: step(stack, step_id)["status"] == status, 60, f"step {step_id} to be {status}")


def supplement(stack: DevStack, code: str, step_id: str, asked: datetime, given: datetime | None) -> None:
    """The desk asks the citizen for a supplement (the clock pauses) and, if ``given``, records it."""
    desk(stack, code, "supplement-requests", asked, items=["Bản sao giấy tờ"], reason="Thiếu giấy tờ")
    wait_step(stack, step_id, "paused_for_citizen")  # routing follows intake: the step waits for the citizen
    if given is not None:
        desk(stack, code, "supplements", given, items=["Bản sao giấy tờ"])
        wait_until(lambda: step(stack, step_id)["status"] != "paused_for_citizen", 60, "the step to resume")


@dataclass
class Quarter:
    codes: dict[str, str] = field(default_factory=dict)
    steps: dict[str, list[str]] = field(default_factory=dict)
    reset: dict[str, Any] = field(default_factory=dict)


# ---- the expected report, by hand ---------------------------------------------------------------------------

COUNTS = (
    "carried_over",
    "received_in_person",
    "received_online",
    "received_postal",
    "resolved_early",
    "resolved_on_time",
    "resolved_late",
    "returned",
    "withdrawn",
    "stopped",
    "in_progress_on_time",
    "in_progress_overdue",
    "paused",
    "apologies_issued",
)


def line(
    code: str,
    name: str,
    late_by_level: dict[str, int] | None = None,
    late_by_unit: dict[str, int] | None = None,
    **counts: int,
) -> dict[str, Any]:
    """A report line: the counts given, every other count 0; received and resolved are their sums."""
    assert set(counts) <= set(COUNTS), set(counts) - set(COUNTS)
    figures: dict[str, Any] = {"unit_code": code, "unit_name": name, **dict.fromkeys(COUNTS, 0), **counts}
    figures["received"] = sum(figures[f"received_{c}"] for c in ("in_person", "online", "postal"))
    figures["resolved"] = sum(figures[f"resolved_{o}"] for o in ("early", "on_time", "late"))
    figures["late_by_level"] = late_by_level or {}
    figures["late_by_unit"] = late_by_unit or {}
    return figures


# At the quarter's end (1 April 2026 00:00). Why each dossier lands where it does is told where it is built.
END_WARD = line(
    WARD,
    "Phường Sơn Hà",
    carried_over=3,  # C1, C2, C3 (E0 ended in December: not carried over)
    received_in_person=5,  # N1, N4, N5, N6, S
    received_online=2,  # N2, N7
    received_postal=2,  # N3, N8
    resolved_early=1,  # N1
    resolved_on_time=4,  # C1, N3, N4, N6
    resolved_late=3,  # C2, N2, S
    returned=2,  # E0 (resolved in December, returned in January), N1
    withdrawn=1,  # N5
    in_progress_on_time=1,  # N8
    in_progress_overdue=1,  # C3
    paused=1,  # N7
    apologies_issued=1,  # N6's, recorded by its reset
    late_by_level={"commune": 3, "interconnection": 1},  # C2, N2, C3; S
    late_by_unit={WARD: 3, "interconnection": 1},
)
END_POLICE = line(
    POLICE,
    "Công an phường Sơn Hà",
    received_online=1,
    resolved_late=1,
    late_by_level={"police": 1},
    late_by_unit={POLICE: 1},
)  # P1
END_OLD_WARD = line(
    OLD_WARD,
    "Phường Trần Phú",
    carried_over=1,
    resolved_late=1,
    late_by_level={"district": 1},
    late_by_unit={OLD_CITY: 1},
)  # T
END_TOTAL = line(
    "TOTAL",
    "Tổng cộng",
    carried_over=4,
    received_in_person=5,
    received_online=3,
    received_postal=2,
    resolved_early=1,
    resolved_on_time=4,
    resolved_late=5,
    returned=2,
    withdrawn=1,
    in_progress_on_time=1,
    in_progress_overdue=1,
    paused=1,
    apologies_issued=1,
    late_by_level={"commune": 3, "interconnection": 1, "police": 1, "district": 1},
    late_by_unit={WARD: 3, "interconnection": 1, POLICE: 1, OLD_CITY: 1},
)

# As it stood on Friday 13 February 2026 at noon: N6, N7, N8 not yet received; N4 waiting for its
# supplement since 10:00; S in its commune review, within its time; N6's reset (and apology) not yet made.
MID_WARD = line(
    WARD,
    "Phường Sơn Hà",
    carried_over=3,  # C1, C2, C3
    received_in_person=4,  # N1, N4, N5, S
    received_online=1,  # N2
    received_postal=1,  # N3
    resolved_early=1,  # N1
    resolved_on_time=2,  # C1, N3
    resolved_late=2,  # C2, N2
    returned=2,  # E0, N1
    withdrawn=1,  # N5
    in_progress_on_time=1,  # S
    in_progress_overdue=1,  # C3
    paused=1,  # N4
    late_by_level={"commune": 3},  # C2, N2, C3
    late_by_unit={WARD: 3},
)
MID_TOTAL = line(
    "TOTAL",
    "Tổng cộng",
    carried_over=4,
    received_in_person=4,
    received_online=2,
    received_postal=1,
    resolved_early=1,
    resolved_on_time=2,
    resolved_late=4,
    returned=2,
    withdrawn=1,
    in_progress_on_time=1,
    in_progress_overdue=1,
    paused=1,
    late_by_level={"commune": 3, "police": 1, "district": 1},
    late_by_unit={WARD: 3, POLICE: 1, OLD_CITY: 1},
)


def quarter_report(stack: DevStack, **params: str) -> dict[str, Any]:
    response = report(stack, stack.key(IMPORTER), period=PERIOD, **params)
    return ok(response)


# ---- the scenario ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, broker: Broker) -> Iterator[DevStack]:
    with running_stack(tmp_path_factory.mktemp("sla-report"), broker, extra_keys=KEYS, extra_env=SLOW_SWEEP) as s:
        yield s


@pytest.fixture(scope="module")
def quarter(stack: DevStack) -> Quarter:
    q = Quarter()

    def one_stop(name: str, procedure: str, unit: str, channel: str, accepted_at: datetime) -> str:
        q.codes[name] = code = file(stack, procedure, unit, channel, accepted_at)
        q.steps[name] = step_ids(stack, code)
        return q.steps[name][0]

    # E0 — accepted Mon 1 Dec 2025 09:00, resolved Tue 2 Dec, its result handed over Mon 5 Jan 2026: it ended
    # before the quarter (not carried over) and counts only as returned in it.
    s = one_stop("E0", MARITAL, WARD, "in_person", vn(2025, 12, 1, 9, 0))
    run(stack, s, vn(2025, 12, 1, 9, 30), vn(2025, 12, 2, 10, 0))
    wait_status(stack, q.codes["E0"], "resolved")
    desk(stack, q.codes["E0"], "return", vn(2026, 1, 5, 10, 0))

    # C1 — accepted Mon 29 Dec 2025 09:00; 3 days (1440 min): Tue 30, Wed 31 Dec, then Mon 5 Jan 09:00 (1–4 Jan
    # off). Resolved Mon 5 Jan 16:00: the same date, so on time (by date), although its step is late by
    # minute (Jan 5 09:00 → 16:00 = 150 + 150 = 300 min): an on-time dossier is nobody's delay.
    s = one_stop("C1", MARITAL, WARD, "in_person", vn(2025, 12, 29, 9, 0))
    run(stack, s, vn(2025, 12, 29, 10, 0), vn(2026, 1, 5, 16, 0))

    # C2 — accepted Tue 30 Dec 2025 14:00; due Tue 6 Jan 14:00 (Wed 31 Dec, Mon 5, Tue 6). Resolved Thu 8 Jan
    # 10:00: late; its step overran Jan 6 14:00 → Jan 8 10:00 = 180 + 480 + 180 = 840 min, the commune's.
    s = one_stop("C2", MARITAL, WARD, "online", vn(2025, 12, 30, 14, 0))
    run(stack, s, vn(2025, 12, 31, 8, 0), vn(2026, 1, 8, 10, 0))

    # C3 — accepted Wed 31 Dec 2025 10:00; due Wed 7 Jan 10:00; never finished: carried over, and overdue at
    # the end (its step, the commune's, overran since Jan 7 10:00).
    s = one_stop("C3", MARITAL, WARD, "in_person", vn(2025, 12, 31, 10, 0))
    on_step(stack, s, "accept", vn(2025, 12, 31, 11, 0))

    build_two_overruns(stack, q)

    # N1 — in person, Mon 5 Jan 08:00; due Thu 8 Jan 08:00; resolved Tue 6 Jan 15:00 (early); result handed
    # over Wed 7 Jan 09:00 (returned).
    s = one_stop("N1", MARITAL, WARD, "in_person", vn(2026, 1, 5, 8, 0))
    run(stack, s, vn(2026, 1, 5, 9, 0), vn(2026, 1, 6, 15, 0))
    wait_status(stack, q.codes["N1"], "resolved")
    desk(stack, q.codes["N1"], "return", vn(2026, 1, 7, 9, 0))

    # N2 — online, Fri 9 Jan 16:00: after 15:00, so the clock starts (and the step is handed over) on the next
    # working day, Saturday 10 Jan 07:00 (worked in exchange for 2 Jan); 3 days → Tue 13 Jan 17:00.
    # Resolved Wed 14 Jan 09:00: late (had Saturday been off it would have been on time); the step overran
    # Jan 13 17:00 → Jan 14 09:00 = 120 min, the commune's.
    s = one_stop("N2", HOUSEHOLD, WARD, "online", vn(2026, 1, 9, 16, 0))
    run(stack, s, vn(2026, 1, 12, 8, 0), vn(2026, 1, 14, 9, 0))

    # N3 — postal, Mon 12 Jan 10:00; due Thu 15 Jan 10:00; resolved Thu 15 Jan 11:00: on time by date.
    s = one_stop("N3", MARITAL, WARD, "postal", vn(2026, 1, 12, 10, 0))
    run(stack, s, vn(2026, 1, 12, 14, 0), vn(2026, 1, 15, 11, 0))

    # P1 — online at the ward's police, Mon 19 Jan 09:00; 7 days → Wed 28 Jan 09:00; resolved Fri 30 Jan 09:00:
    # late, its step overran 960 min: the police's.
    s = one_stop("P1", RESIDENCE, POLICE, "online", vn(2026, 1, 19, 9, 0))
    run(stack, s, vn(2026, 1, 19, 10, 0), vn(2026, 1, 30, 9, 0))

    # N5 — in person, Mon 2 Feb 09:00; withdrawn by the citizen Tue 3 Feb 10:00.
    one_stop("N5", MARITAL, WARD, "in_person", vn(2026, 2, 2, 9, 0))
    desk(stack, q.codes["N5"], "withdraw", vn(2026, 2, 3, 10, 0), reason="Công dân rút hồ sơ")

    build_failed_handover(stack, q)

    # N4 — in person, Thu 12 Feb 14:00; due Tue 24 Feb 14:00 (Fri 13, [Tết 16–20], Mon 23, Tue 24). Supplement
    # asked Fri 13 Feb 10:00, given Mon 23 Feb 10:00: paused 300 (Fri 10:00–17:00) + 180 (Mon 07:00–10:00) =
    # 480 min, so the appointment moves to Wed 25 Feb 14:00. Resolved Wed 25 Feb 11:00: on time (it would be
    # late against the original appointment).
    s = one_stop("N4", MARITAL, WARD, "in_person", vn(2026, 2, 12, 14, 0))
    on_step(stack, s, "accept", vn(2026, 2, 12, 14, 30))
    supplement(stack, q.codes["N4"], s, vn(2026, 2, 13, 10, 0), vn(2026, 2, 23, 10, 0))
    on_step(stack, s, "complete", vn(2026, 2, 25, 11, 0), outcome="approved")

    # N6 — in person, Mon 9 Mar 08:00; due Thu 12 Mar 08:00. On Wed 11 Mar 09:00 the desk resets the
    # appointment (once) to Mon 16 Mar 17:00, which records the apology. Resolved Mon 16 Mar 10:00: on time
    # against the new appointment.
    s = one_stop("N6", MARITAL, WARD, "in_person", vn(2026, 3, 9, 8, 0))
    on_step(stack, s, "accept", vn(2026, 3, 9, 8, 30))
    # sla must know the step in hand (the apology names its unit) before the reset reads the clock.
    wait_clock(stack, q.codes["N6"], lambda c: len(c["steps"]) == 1, "sla to see N6's step", stack.key(IMPORTER))
    with sla(stack, stack.key(IMPORTER)) as c:
        reset = c.post(
            f"/v1/dossiers/{q.codes['N6']}/appointment-reset",
            json={
                "reason": "Cần xác minh thêm thông tin hộ tịch tại nơi cư trú trước đây",
                "new_appointment_at": vn(2026, 3, 16, 17, 0).isoformat(),
                "occurred_at": vn(2026, 3, 11, 9, 0).isoformat(),
            },
        )
    q.reset = ok(reset)
    on_step(stack, s, "complete", vn(2026, 3, 16, 10, 0), outcome="approved")

    # N7 — online, Mon 23 Mar 09:00; supplement asked Tue 24 Mar 09:00 and not given by the end: paused.
    s = one_stop("N7", MARITAL, WARD, "online", vn(2026, 3, 23, 9, 0))
    supplement(stack, q.codes["N7"], s, vn(2026, 3, 24, 9, 0), None)

    # N8 — postal, Tue 31 Mar 09:00; due Fri 3 Apr 09:00: in progress, on time, at the end.
    one_stop("N8", MARITAL, WARD, "postal", vn(2026, 3, 31, 9, 0))

    # sla has seen every event that moves a figure once the report shows all of them as worked out by hand.
    with contextlib.suppress(AssertionError):  # the assertion below shows how the figures differ
        wait_until(lambda: quarter_report(stack)["total"] == END_TOTAL, 120, "sla to count every event")
    assert quarter_report(stack)["total"] == END_TOTAL
    return q


def build_two_overruns(stack: DevStack, q: Quarter) -> None:
    """T — social assistance received on Mon 16 Jun 2025 08:00 at Phường Trần Phú, under the three-level map
    (kept to the end): commune → city's labour office → city → commune; 20 days (9600 min) → Mon 14 Jul 2025
    08:00 before any exclusion. The commune's review overruns 480 min, the city's decision 660 min; a
    supplement for the labour office's appraisal waits for the citizen from Fri 4 Jul 2025 09:00 to Mon 5 Jan
    2026 09:00 (127 working days = 60960 min), so it is carried into the quarter and resolved late in it."""
    q.codes["T"] = code = file(stack, SOCIAL, OLD_WARD, "in_person", vn(2025, 6, 16, 8, 0))
    route = routed(stack, code)
    assert route["map"] == "three_level"
    units = [(s["key"], s["unit_code"], s["unit_level"], s["budget_minutes"], s["counts"]) for s in route["steps"]]
    assert units == [
        ("intake", OLD_WARD, "commune", 240, True),
        ("commune_review", OLD_WARD, "commune", 3360, True),
        ("public_posting", OLD_WARD, "commune", 960, False),
        ("commune_submit", OLD_WARD, "commune", 480, True),
        ("appraise", OLD_LABOUR, "department", 3360, True),
        ("decide", OLD_CITY, "district", 1440, True),
        ("return", OLD_WARD, "commune", 720, True),
    ]
    q.steps["T"] = ids = [s["step_id"] for s in route["steps"]]
    # 1 intake, due Jun 16 14:00: done 11:00, early.
    run(stack, ids[0], vn(2025, 6, 16, 8, 30), vn(2025, 6, 16, 11, 0))
    # 2 commune review, 7 days from Jun 16 11:00 → Wed 25 Jun 11:00; done Thu 26 Jun 11:00: late by 480 min.
    run(stack, ids[1], vn(2025, 6, 16, 14, 0), vn(2025, 6, 26, 11, 0))
    # 3 public posting, not counted: Jun 26 11:00 → Mon 30 Jun 11:00 = 960 min excluded.
    run(stack, ids[2], vn(2025, 6, 26, 14, 0), vn(2025, 6, 30, 11, 0))
    # 4 commune's submission, due Tue 1 Jul 11:00; done 09:00, early.
    run(stack, ids[3], vn(2025, 6, 30, 13, 30), vn(2025, 7, 1, 9, 0))
    # 5 appraisal, 7 days from Jul 1 09:00 → Thu 10 Jul 09:00 plus the pause; 3 days (1440) used before it,
    # 4 days left after it: Tue 6, Wed 7, Thu 8, Fri 9 Jan 2026 09:00. Done then: on time.
    on_step(stack, ids[4], "accept", vn(2025, 7, 1, 10, 0))
    supplement(stack, code, ids[4], vn(2025, 7, 4, 9, 0), vn(2026, 1, 5, 9, 0))
    on_step(stack, ids[4], "complete", vn(2026, 1, 9, 9, 0), outcome="approved")
    # 6 the city's decision, 3 days from Fri 9 Jan 09:00: Sat 10 (worked), Mon 12, Tue 13 Jan 09:00; done Wed 14
    # Jan 14:00: late by 150 + 210 (Jan 13) + 270 + 30 (Jan 14) = 660 min.
    run(stack, ids[5], vn(2026, 1, 12, 8, 0), vn(2026, 1, 14, 14, 0))
    # 7 return, 1.5 days from Jan 14 14:00 → Fri 16 Jan 08:00; done Thu 15 Jan 10:00, early. Resolved then.
    run(stack, ids[6], vn(2026, 1, 15, 8, 0), vn(2026, 1, 15, 10, 0))


def build_failed_handover(stack: DevStack, q: Quarter) -> None:
    """S — social assistance at Phường Sơn Hà, Mon 2 Feb 2026 08:00 (two-level map: every step at the ward);
    20 days → Mon 9 Mar 08:00, moved out by the public posting's 960 min to Wed 11 Mar 08:00. The commune
    review's handover reaches the ward's system broken: 960 min lost before it is reported, and the step ends
    480 min past its deadline, all of it the interconnection's. Resolved Thu 12 Mar 08:00: late, because of
    the interconnection."""
    q.codes["S"] = code = file(stack, SOCIAL, WARD, "in_person", vn(2026, 2, 2, 8, 0))
    route = routed(stack, code)
    assert [(s["key"], s["unit_code"], s["budget_minutes"]) for s in route["steps"]] == [
        ("intake", WARD, 240),
        ("commune_review", WARD, 4800),
        ("public_posting", WARD, 960),
        ("appraise", WARD, 2880),
        ("decide", WARD, 1440),
        ("return", WARD, 240),
    ]
    q.steps["S"] = ids = [s["step_id"] for s in route["steps"]]
    # 1 intake, due Feb 2 14:00 (210 + 30); done at 14:00: on time.
    run(stack, ids[0], vn(2026, 2, 2, 8, 5), vn(2026, 2, 2, 14, 0))
    # 2 commune review, 10 days from Feb 2 14:00: Feb 3–6, 9–13, [Tết], Mon 23 Feb 14:00. Its handover is
    # reported broken on Wed 4 Feb 14:00 (960 min lost); done Tue 24 Feb 14:00, 480 min late: min(480, 960)
    # is the interconnection's, nothing the unit's.
    on_step(stack, ids[1], "report-failure", vn(2026, 2, 4, 14, 0), reason="Hồ sơ điện tử chuyển sang thiếu tệp")
    run(stack, ids[1], vn(2026, 2, 4, 14, 30), vn(2026, 2, 24, 14, 0))
    # 3 public posting, not counted: Feb 24 14:00 → Thu 26 Feb 14:00 = 960 min excluded.
    run(stack, ids[2], vn(2026, 2, 24, 14, 30), vn(2026, 2, 26, 14, 0))
    # 4 appraisal, 6 days → Fri 6 Mar 14:00; 5 decision, 3 days → Wed 11 Mar 14:00; 6 return, 240 min →
    # Thu 12 Mar 08:00: each done exactly at its deadline, on time.
    run(stack, ids[3], vn(2026, 2, 27, 8, 0), vn(2026, 3, 6, 14, 0))
    run(stack, ids[4], vn(2026, 3, 9, 8, 0), vn(2026, 3, 11, 14, 0))
    run(stack, ids[5], vn(2026, 3, 11, 14, 30), vn(2026, 3, 12, 8, 0))


# ---- the report ------------------------------------------------------------------------------------------------


def test_the_quarter_report_counts_every_dossier_as_worked_out_by_hand(stack: DevStack, quarter: Quarter) -> None:
    body = quarter_report(stack)
    assert (body["period"], body["window"], body["outcome_by"]) == (PERIOD, "calendar", "date")
    assert (at(body["from_at"]), at(body["to_at"]), at(body["as_of"])) == (Q1_START, Q1_END, Q1_END)
    assert body["units"] == [END_WARD, END_POLICE, END_OLD_WARD]  # ordered by unit code
    assert body["total"] == END_TOTAL

    # The same window given as from/to: the same figures, a custom window.
    with sla(stack, stack.key(IMPORTER)) as c:
        custom = ok(c.get("/v1/reports/quarterly", params={"from": Q1_START.isoformat(), "to": Q1_END.isoformat()}))
    assert (custom["period"], custom["window"]) == (None, "custom")
    assert (custom["units"], custom["total"]) == (body["units"], body["total"])


def test_as_of_mid_quarter_gives_the_figures_as_they_stood_then(stack: DevStack, quarter: Quarter) -> None:
    body = quarter_report(stack, as_of=MID_QUARTER.isoformat())
    assert at(body["as_of"]) == MID_QUARTER and at(body["to_at"]) == Q1_END
    assert body["units"] == [MID_WARD, END_POLICE, END_OLD_WARD]
    assert body["total"] == MID_TOTAL
    # What changed by the end: three received since, two more resolved on time and one late (S, to the
    # interconnection), N4 no longer paused but N7 is, and the apology.
    assert (MID_TOTAL["received"], END_TOTAL["received"]) == (7, 10)
    assert (MID_TOTAL["apologies_issued"], END_TOTAL["apologies_issued"]) == (0, 1)
    assert "interconnection" not in body["total"]["late_by_level"]


def expected_cells(figures: dict[str, Any], key: str) -> Any:
    """The value of a CSV/XLSX column (its English key) in a JSON line."""
    if key.startswith("late_by_"):
        return figures["late_by_level"].get(key.removeprefix("late_by_"), 0)
    return figures[key.removesuffix("_total")]


def test_csv_and_xlsx_answer_with_the_same_figures(stack: DevStack, quarter: Quarter) -> None:
    key = stack.key(IMPORTER)
    as_csv = report(stack, key, period=PERIOD, format="csv")
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert as_csv.content.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM, for Excel
    rows = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    header, lines = rows[0], rows[1:]
    assert [r[0] for r in lines] == [WARD, POLICE, OLD_WARD, "TOTAL"]
    assert {"late_by_commune", "late_by_district", "late_by_police", "late_by_interconnection"} <= set(header)
    for row, figures in zip(lines, [END_WARD, END_POLICE, END_OLD_WARD, END_TOTAL], strict=True):
        assert dict(zip(header, row, strict=True)) == {k: str(expected_cells(figures, k)) for k in header}

    with sla(stack, key) as c:  # or asked for by Accept
        by_accept = c.get("/v1/reports/quarterly", params={"period": PERIOD}, headers={"Accept": "text/csv"})
    assert by_accept.status_code == 200 and by_accept.content == as_csv.content

    as_xlsx = report(stack, key, period=PERIOD, format="xlsx")
    assert as_xlsx.status_code == 200, as_xlsx.text
    assert as_xlsx.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(as_xlsx.content)).active
    assert sheet is not None
    cells = list(sheet.iter_rows(values_only=True))
    assert "quý I năm 2026" in str(cells[0][0])
    keys = [str(k) for k in cells[2]]
    assert keys == header
    for row_values, figures in zip(cells[3:], [END_WARD, END_POLICE, END_OLD_WARD, END_TOTAL], strict=True):
        assert dict(zip(keys, row_values, strict=True)) == {k: expected_cells(figures, k) for k in keys}


# ---- clocks, slips, the reset ------------------------------------------------------------------------------------


def test_a_supplement_across_tet_moves_the_appointment_by_the_working_time_paused(
    stack: DevStack, quarter: Quarter
) -> None:
    code, key = quarter.codes["N4"], stack.key(IMPORTER)
    during = clock(stack, code, vn(2026, 2, 18, 10, 0), key)  # Tết: waiting for the citizen
    assert (during["state"], during["paused_for"], during["overdue"]) == ("paused", "supplement", False)
    assert at(during["appointment_at"]) == vn(2026, 2, 24, 14, 0)  # frozen while the pause lasts
    # Left when the pause began (Fri 13 Feb 10:00): 300 (Fri) + 480 (Mon 23) + 300 (Tue 24 to 14:00).
    assert during["left_minutes"] == 1080
    assert during["steps"][0]["paused"] is True

    resumed = clock(stack, code, vn(2026, 2, 23, 12, 0), key)
    assert (resumed["state"], resumed["paused_for"], resumed["paused_minutes"]) == ("running", None, 480)
    assert at(resumed["appointment_at"]) == vn(2026, 2, 25, 14, 0)

    done = clock(stack, code, key=key)
    assert (done["state"], done["outcome"], done["responsible"]) == ("resolved", "on_time", None)
    assert at(done["original_appointment_at"]) == vn(2026, 2, 24, 14, 0)
    assert at(done["appointment_at"]) == vn(2026, 2, 25, 14, 0)
    assert (done["paused_minutes"], done["excluded_minutes"]) == (480, 480)
    (decide,) = done["steps"]
    # The step's deadline moves out by the same 480 min: Feb 24 14:00 → Feb 25 14:00; done 11:00, early.
    assert (at(decide["deadline_at"]), decide["result"], decide["paused_minutes"]) == (
        vn(2026, 2, 25, 14, 0),
        "early",
        480,
    )


def test_dates_decide_a_dossiers_outcome_and_the_worked_saturday_counts(stack: DevStack, quarter: Quarter) -> None:
    key = stack.key(IMPORTER)
    c1 = clock(stack, quarter.codes["C1"], key=key)
    assert (c1["outcome"], c1["responsible"], at(c1["appointment_at"])) == ("on_time", None, vn(2026, 1, 5, 9, 0))
    (decide,) = c1["steps"]
    assert (decide["result"], decide["overrun_minutes"]) == ("late", 300)  # by minute the step is late

    n2 = clock(stack, quarter.codes["N2"], key=key)
    assert (at(n2["accepted_at"]), at(n2["started_at"])) == (vn(2026, 1, 9, 16, 0), vn(2026, 1, 10, 7, 0))
    assert at(n2["appointment_at"]) == vn(2026, 1, 13, 17, 0) and n2["outcome"] == "late"
    assert n2["responsible"] == {
        "party": "unit",
        "unit_code": WARD,
        "level": "commune",
        "minutes": 120,
        "step_seq": 1,
        "attempt": 1,
        "step_key": "decide",
    }


def overrun(unit: str, level: str, minutes: int, seq: int, key: str, party: str = "unit") -> dict[str, Any]:
    return {
        "party": party,
        "unit_code": unit,
        "level": level,
        "minutes": minutes,
        "step_seq": seq,
        "attempt": 1,
        "step_key": key,
    }


def test_two_overruns_on_one_dossier_the_larger_is_responsible(stack: DevStack, quarter: Quarter) -> None:
    key = stack.key(IMPORTER)
    t = clock(stack, quarter.codes["T"], key=key)
    commune = overrun(OLD_WARD, "commune", 480, 2, "commune_review")
    city = overrun(OLD_CITY, "district", 660, 6, "decide")
    assert t["overruns"] == [commune, city]  # in the order of their handovers
    assert t["responsible"] == city
    assert (t["state"], t["outcome"]) == ("resolved", "late")
    assert at(t["original_appointment_at"]) == vn(2025, 7, 14, 8, 0)
    # Used: 180 + 3840 + 360 + 3360 + 2100 + 360 = 10200 min, 600 more than the 9600 allowed: the moved
    # appointment is 600 working minutes before the resolution (Thu 15 Jan 10:00) → Wed 14 Jan 08:00.
    assert (t["used_minutes"], t["paused_minutes"], t["excluded_minutes"]) == (10200, 60960, 60960 + 960)
    assert at(t["appointment_at"]) == vn(2026, 1, 14, 8, 0)
    assert at(t["ended_at"]) == vn(2026, 1, 15, 10, 0)

    with sla(stack, key) as c:
        slip = ok(c.get(f"/v1/dossiers/{quarter.codes['T']}/control-slip"))
    assert (slip["receiving_unit_code"], slip["outcome"], at(slip["finished_at"])) == (
        OLD_WARD,
        "late",
        vn(2026, 1, 15, 10, 0),
    )
    rows = slip["rows"]
    # One row per handover: who handed over to whom, when, the step's deadline, and how it finished.
    assert [
        (
            r["seq"],
            r["handing_over_unit_code"],
            r["receiving_unit_code"],
            r["receiving_unit_level"],
            at(r["handed_over_at"]),
            at(r["deadline_at"]),
            at(r["finished_at"]),
            r["result"],
            r["overrun_minutes"],
        )
        for r in rows
    ] == [
        (1, OLD_WARD, OLD_WARD, "commune", vn(2025, 6, 16, 8), vn(2025, 6, 16, 14), vn(2025, 6, 16, 11), "early", 0),
        (2, OLD_WARD, OLD_WARD, "commune", vn(2025, 6, 16, 11), vn(2025, 6, 25, 11), vn(2025, 6, 26, 11), "late", 480),
        (3, OLD_WARD, OLD_WARD, "commune", vn(2025, 6, 26, 11), None, vn(2025, 6, 30, 11), None, 0),
        (4, OLD_WARD, OLD_WARD, "commune", vn(2025, 6, 30, 11), vn(2025, 7, 1, 11), vn(2025, 7, 1, 9), "early", 0),
        (5, OLD_WARD, OLD_LABOUR, "department", vn(2025, 7, 1, 9), vn(2026, 1, 9, 9), vn(2026, 1, 9, 9), "on_time", 0),
        (6, OLD_LABOUR, OLD_CITY, "district", vn(2026, 1, 9, 9), vn(2026, 1, 13, 9), vn(2026, 1, 14, 14), "late", 660),
        (7, OLD_CITY, OLD_WARD, "commune", vn(2026, 1, 14, 14), vn(2026, 1, 16, 8), vn(2026, 1, 15, 10), "early", 0),
    ]
    assert [r["paused_minutes"] for r in rows] == [0, 0, 0, 0, 60960, 0, 0]
    assert [r["counts"] for r in rows] == [True, True, False, True, True, True, True]
    assert all(r["interconnection_minutes"] == r["interconnection_overrun_minutes"] == 0 for r in rows)
    assert rows[5]["receiving_unit_name"] == "Ủy ban nhân dân thành phố Sơn Hà"

    with sla(stack, key) as c:
        pdf = c.get(f"/v1/dossiers/{quarter.codes['T']}/control-slip", params={"format": "pdf"})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")


def test_a_failed_handover_makes_the_delay_the_interconnections(stack: DevStack, quarter: Quarter) -> None:
    s = clock(stack, quarter.codes["S"], key=stack.key(IMPORTER))
    assert (s["outcome"], s["excluded_minutes"], s["paused_minutes"]) == ("late", 960, 0)
    assert at(s["appointment_at"]) == vn(2026, 3, 11, 8, 0)
    assert at(s["ended_at"]) == vn(2026, 3, 12, 8, 0)
    lost = overrun(WARD, "interconnection", 480, 2, "commune_review", party="interconnection")
    assert s["overruns"] == [lost] and s["responsible"] == lost
    review = s["steps"][1]
    assert (at(review["deadline_at"]), review["result"]) == (vn(2026, 2, 23, 14, 0), "late")
    assert (
        review["interconnection_minutes"],
        review["interconnection_overrun_minutes"],
        review["overrun_minutes"],
    ) == (960, 480, 0)
    assert [x["result"] for x in s["steps"]] == ["on_time", "late", None, "on_time", "on_time", "on_time"]


def test_the_appointment_is_reset_once_and_the_apology_slip_says_why(stack: DevStack, quarter: Quarter) -> None:
    code, key = quarter.codes["N6"], stack.key(IMPORTER)
    first = quarter.reset
    assert first["dossier_code"] == code
    assert (at(first["reset_at"]), at(first["previous_appointment_at"]), at(first["appointment_at"])) == (
        vn(2026, 3, 11, 9, 0),
        vn(2026, 3, 12, 8, 0),
        vn(2026, 3, 16, 17, 0),
    )

    with sla(stack, key) as c:
        again = c.post(
            f"/v1/dossiers/{code}/appointment-reset",
            json={
                "reason": "Lần thứ hai",
                "new_appointment_at": vn(2026, 3, 20, 17, 0).isoformat(),
                "occurred_at": vn(2026, 3, 12, 9, 0).isoformat(),
            },
        )
    refused = problem(again, 409)
    assert refused["title"] == "Already reset" and "only once" in refused["detail"], refused

    n6 = clock(stack, code, key=key)
    assert (n6["state"], n6["outcome"], n6["apologies"]) == ("resolved", "on_time", 1)
    assert at(n6["reset_at"]) == vn(2026, 3, 11, 9, 0)
    assert (at(n6["original_appointment_at"]), at(n6["appointment_at"])) == (
        vn(2026, 3, 12, 8, 0),
        vn(2026, 3, 16, 17, 0),
    )

    with sla(stack, key) as c:
        slip = ok(c.get(f"/v1/dossiers/{code}/apology"))
        pdf = c.get(f"/v1/dossiers/{code}/apology", headers={"Accept": "application/pdf"})
        none = c.get(f"/v1/dossiers/{quarter.codes['N1']}/apology")
    assert (slip["dossier_code"], slip["receiving_unit_code"], slip["reason"]) == (
        code,
        WARD,
        "Cần xác minh thêm thông tin hộ tịch tại nơi cư trú trước đây",
    )
    assert at(slip["issued_at"]) == vn(2026, 3, 11, 9, 0)
    assert at(slip["original_appointment_at"]) == vn(2026, 3, 12, 8, 0)
    assert at(slip["proposed_appointment_at"]) == at(slip["new_appointment_at"]) == vn(2026, 3, 16, 17, 0)
    assert (slip["reset"], slip["responsible_unit_code"], slip["responsible_level"]) == (True, WARD, "commune")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    problem(none, 404)
