"""Interconnected routes end to end, over real HTTP, broker and databases: a land change dossier goes
desk → land office → tax (paused for the tax payment, resumed by intake's payment) → land office → desk and
its process control slip matches every action; dossiers accepted either side of the 2025 reform keep the
map they were accepted in, to the end."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from services.devstack import DevStack
from shared.calendar import vietnam_calendar
from tests.e2e.conftest import client
from tests.support.dossier_api import api, dossier, ok, problem
from tests.support.infra import Broker
from tests.support.routing_api import (
    DESK,
    LAND,
    LAND_OFFICE,
    TAX,
    act,
    at,
    file_land,
    routed,
    slip,
    step,
    vn,
    wait_status,
)
from tests.support.stacks import running_stack
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

CAL = vietnam_calendar()
KEYS = {"unit-desk": [f"unit:{DESK}"], "unit-land": [f"unit:{LAND_OFFICE}"], "unit-tax": [f"unit:{TAX}"]}
STEP_KEYS = ["intake", "appraise", "tax_assessment", "payment", "update_certificate", "return"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, broker: Broker) -> Iterator[DevStack]:
    with running_stack(tmp_path_factory.mktemp("routing-land"), broker, extra_keys=KEYS) as s:
        yield s


def assert_land_route(route: dict[str, Any], units: list[str], map_: str = "three_level") -> None:
    steps = route["steps"]
    assert (route["map"], route["route_version"], route["status"]) == (map_, "2025.1", "open")
    assert [s["key"] for s in steps] == STEP_KEYS
    assert [s["unit_code"] for s in steps] == units
    assert [s["unit_level"] for s in steps][1:5] == ["land_office", "tax", "land_office", "land_office"]
    assert steps[0]["unit_level"] == steps[5]["unit_level"] == ("commune" if map_ == "two_level" else "district")
    assert [s["counts"] for s in steps] == [True, True, False, False, True, True]
    assert all(s["name"] for s in steps) and steps[1]["external"] and not steps[0]["external"]


def assert_slip_matches(
    rows: list[dict[str, Any]],
    steps: list[dict[str, Any]],
    accepted: list[dict[str, Any]],
    done: list[dict[str, Any]],
    accepted_at: datetime,
) -> None:
    """Each row is the answers of the actions: handed over at the previous completion, accepted and finished
    when the unit said so, due its budget after the handover, early / on time / late by minute."""
    assert rows[0]["handed_over_at"] and at(rows[0]["handed_over_at"]) == accepted_at
    for n, row in enumerate(rows):
        assert (row["seq"], row["step_key"], row["attempt"], row["kind"]) == (n + 1, STEP_KEYS[n], 1, "forwarded")
        if n:  # each handover is the previous step's completion instant
            assert at(row["handed_over_at"]) == at(done[n - 1]["finished_at"])
        assert at(row["accepted_at"]) == at(accepted[n]["accepted_at"])
        assert at(row["finished_at"]) == at(done[n]["finished_at"])
        assert (row["ended"], row["outcome"], row["failure"]) == ("completed", "approved", None)
        if steps[n]["counts"]:
            deadline = CAL.add_working_minutes(at(row["handed_over_at"]), steps[n]["budget_minutes"])
            assert at(row["deadline_at"]) == deadline
            finished = at(row["finished_at"])
            expected = "late" if finished.replace(second=0, microsecond=0) > deadline else "early"
            if finished.replace(second=0, microsecond=0) == deadline:
                expected = "on_time"
            assert row["result"] == expected
        else:
            assert (row["deadline_at"], row["result"], row["result_label"]) == (None, None, None)


def pay_through_intake(stack: DevStack, code: str, items: list[str]) -> None:
    """Intake follows the tax notice (status 6, the citizen is told); the desk records the payment (back to 4)."""
    notified = wait_status(stack, code, "financial_obligation")
    assert notified["status_code"] == 6
    (notice,) = [e["detail"] for e in notified["timeline"] if e["type"] == "dossier.financial_obligation_set"]
    assert (notice["items"], notice["requested_by_unit_code"]) == (items, TAX)
    with api(stack, stack.key(f"dev-desk-{DESK}")) as c:
        assert ok(c.post(f"/v1/dossiers/{code}/payments", json={"receipt_reference": "BL-0042"}))["status_code"] == 4


def test_a_land_change_dossier_goes_desk_land_office_tax_land_office_desk(stack: DevStack) -> None:
    desk, land, tax = stack.key("unit-desk"), stack.key("unit-land"), stack.key("unit-tax")
    accepted_at = vn(2026, 11, 16, 9, 0)  # a Monday morning: forwarded at once
    code = file_land(stack, DESK, accepted_at)
    route = routed(stack, code)
    steps = route["steps"]
    assert_land_route(route, [DESK, LAND_OFFICE, TAX, LAND_OFFICE, LAND_OFFICE, DESK], "two_level")
    assert [s["status"] for s in steps] == ["assigned"] + ["planned"] * 5
    first = steps[0]
    assert at(first["assigned_at"]) == accepted_at
    assert at(first["deadline_at"]) == CAL.add_working_minutes(accepted_at, first["budget_minutes"])
    assert first["overdue"] and first["time_left_minutes"] < 0  # back-dated a week: long overdue

    with client(stack, "routing", desk) as c:
        inbox = ok(c.get(f"/v1/units/{DESK}/inbox"))["items"]
    mine = [(i["key"], i["procedure_code"], i["status"]) for i in inbox if i["dossier_code"] == code]
    assert mine == [("intake", LAND, "assigned")]

    ids = [s["step_id"] for s in steps]
    done: list[dict[str, Any]] = []  # each step as its completion answered
    accepted: list[dict[str, Any]] = []
    for n, key in ((0, desk), (1, land)):
        accepted.append(act(stack, key, ids[n], "accept"))
        done.append(act(stack, key, ids[n], "complete", {"outcome": "approved", "note": f"bước {n + 1} xong"}))
    assert step(stack, ids[1])["status"] == "completed"

    # The tax authority assesses and issues the tax notice: its step waits for the citizen's payment.
    accepted.append(act(stack, tax, ids[2], "accept"))
    items = ["Thuế thu nhập cá nhân", "Lệ phí trước bạ"]
    notice = {"items": items, "amount_vnd": 12_500_000, "reason": "Chuyển nhượng"}
    paused = act(stack, tax, ids[2], "financial-obligation", notice)
    assert (paused["status"], paused["pause_kind"]) == ("paused_for_citizen", "financial_obligation")
    with client(stack, "routing", tax) as c:
        waiting = ok(c.get(f"/v1/units/{TAX}/inbox", params={"status": "paused_for_citizen"}))["items"]
        assert [i["step_id"] for i in waiting] == [ids[2]]
        refused = problem(c.post(f"/v1/steps/{ids[2]}/complete", json={"outcome": "approved"}), 409)
    assert refused["step_status"] == "paused_for_citizen"

    # The citizen pays at the desk, which records the payment in intake: the step resumes.
    pay_through_intake(stack, code, items)
    resumed = wait_until(lambda: (s := step(stack, ids[2]))["status"] == "accepted" and s, 60, "the tax step to resume")
    assert resumed["paused_at"] is None and resumed["deadline_at"] is None  # not counting: no deadline

    done.append(act(stack, tax, ids[2], "complete", {"outcome": "approved"}))
    for n, key in ((3, land), (4, land), (5, desk)):
        accepted.append(act(stack, key, ids[n], "accept"))
        done.append(act(stack, key, ids[n], "complete", {"outcome": "approved"}))

    resolved = wait_status(stack, code, "resolved")
    assert resolved["status_code"] == 9
    assert routed(stack, code)["status"] == "resolved"

    rows = slip(stack, code, land)
    assert [r["n"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [(r["handing_over_unit_code"], r["receiving_unit_code"]) for r in rows] == [
        (DESK, DESK),
        (DESK, LAND_OFFICE),
        (LAND_OFFICE, TAX),
        (TAX, LAND_OFFICE),
        (LAND_OFFICE, LAND_OFFICE),
        (LAND_OFFICE, DESK),
    ]
    assert_slip_matches(rows, steps, accepted, done, accepted_at)
    assert (rows[0]["result"], rows[0]["result_label"]) == ("late", "quá hạn")
    assert rows[2]["paused_minutes"] >= 0 and rows[0]["receiving_unit_name"] == "Phường Sơn Hà"

    timeline = [e["type"] for e in dossier(stack, code)["timeline"]]
    assert timeline.count("step.assigned") == 6 and timeline[-1] == "dossier.resolved"


def drive(stack: DevStack, code: str, times: list[tuple[datetime, datetime]]) -> list[dict[str, Any]]:
    """Accept and complete every step with the admin key at the given (accept, complete) instants."""
    steps: list[dict[str, Any]] = routed(stack, code)["steps"]
    for s, (accept_at, complete_at) in zip(steps, times, strict=True):
        act(stack, None, s["step_id"], "accept", {"occurred_at": accept_at.isoformat()})
        act(stack, None, s["step_id"], "complete", {"outcome": "approved", "occurred_at": complete_at.isoformat()})
    return steps


def test_the_2025_reform_each_dossier_keeps_the_map_it_was_accepted_in(stack: DevStack) -> None:
    # Accepted on the last day of the three-level map, after 15:00: forwarded on 1 July, yet its units stay.
    old = file_land(stack, "H56.14", vn(2025, 6, 30, 16, 0), commune_code="H56.14.01")
    new = file_land(stack, DESK, vn(2025, 7, 1, 9, 0))
    old_route, new_route = routed(stack, old), routed(stack, new)
    assert_land_route(old_route, ["H56.14", "H56.14.VPDK", "H56.14.THUE", "H56.14.VPDK", "H56.14.VPDK", "H56.14"])
    assert_land_route(new_route, [DESK, LAND_OFFICE, TAX, LAND_OFFICE, LAND_OFFICE, DESK], "two_level")
    assert at(old_route["steps"][0]["assigned_at"]) == vn(2025, 7, 1, 7, 0)  # the 15:00 rule

    # Driven to the end in July 2025, under the new map, to the minute.
    times = [
        (vn(2025, 7, 1, 10, 0), vn(2025, 7, 1, 11, 0, 30)),  # due 11:00: finished within that minute
        (vn(2025, 7, 2, 8, 0), vn(2025, 7, 2, 9, 15)),
        (vn(2025, 7, 3, 8, 0), vn(2025, 7, 3, 9, 15)),  # tax and payment: no deadline
        (vn(2025, 7, 4, 8, 0), vn(2025, 7, 4, 9, 15)),
        (vn(2025, 7, 7, 8, 0), vn(2025, 7, 7, 9, 15)),
        (vn(2025, 7, 7, 10, 0), vn(2025, 7, 7, 14, 0)),
    ]
    steps = drive(stack, old, times)
    wait_status(stack, old, "resolved")
    rows = slip(stack, old)
    assert [(r["handing_over_unit_code"], r["receiving_unit_code"]) for r in rows] == [
        ("H56.14", "H56.14"),
        ("H56.14", "H56.14.VPDK"),
        ("H56.14.VPDK", "H56.14.THUE"),
        ("H56.14.THUE", "H56.14.VPDK"),
        ("H56.14.VPDK", "H56.14.VPDK"),
        ("H56.14.VPDK", "H56.14"),
    ]
    handed = [vn(2025, 7, 1, 7, 0)] + [complete for _, complete in times[:-1]]
    for row, s, start, (accept_at, complete_at) in zip(rows, steps, handed, times, strict=True):
        assert (at(row["handed_over_at"]), at(row["accepted_at"]), at(row["finished_at"])) == (
            start,
            accept_at,
            complete_at,
        )
        deadline = CAL.add_working_minutes(start, s["budget_minutes"]) if s["counts"] else None
        assert at(row["deadline_at"]) == deadline
    assert at(rows[0]["deadline_at"]) == vn(2025, 7, 1, 11, 0)
    assert [r["result"] for r in rows] == ["on_time", "early", None, None, "early", "early"]
    assert [r["result_label"] for r in rows][:2] == ["đúng hạn", "trước hạn"]
    assert routed(stack, old)["map"] == "three_level"
