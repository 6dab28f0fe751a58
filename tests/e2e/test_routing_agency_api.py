"""Routing's agency API end to end: a unit sees and acts only on its own steps; two concurrent actions on
one step cannot both win; a send-back re-assigns an earlier step as a new attempt and keeps the history on
the process control slip; a failed handover is reported once; intake's pauses and withdrawal reach the
route."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from services.devstack import DevStack
from shared.calendar import vietnam_calendar
from tests.e2e.conftest import client
from tests.support.dossier_api import api, ok, problem
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
OTHER_LAND_OFFICE = "H56.VPDK.02"
KEYS = {
    "unit-desk": [f"unit:{DESK}"],
    "unit-land": [f"unit:{LAND_OFFICE}"],
    "unit-tax": [f"unit:{TAX}"],
    "unit-other-land": [f"unit:{OTHER_LAND_OFFICE}"],
}
MONDAY = vn(2026, 11, 16, 9, 0)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, broker: Broker) -> Iterator[DevStack]:
    with running_stack(tmp_path_factory.mktemp("routing-agency"), broker, extra_keys=KEYS) as s:
        yield s


def step_ids(stack: DevStack, code: str) -> list[str]:
    return [s["step_id"] for s in routed(stack, code)["steps"]]


def inbox_codes(stack: DevStack, key: str, unit: str, **params: Any) -> list[str]:
    """Dossier codes of every page of a unit's inbox, following next_cursor."""
    found: list[str] = []
    cursor: str | None = None
    with client(stack, "routing", key) as c:
        while True:
            page = ok(c.get(f"/v1/units/{unit}/inbox", params={**params, **({"cursor": cursor} if cursor else {})}))
            found += [i["dossier_code"] for i in page["items"]]
            if (cursor := page["next_cursor"]) is None:
                return found


def test_a_unit_key_sees_and_acts_only_on_its_own_steps(stack: DevStack) -> None:
    desk, land, other, ops = (stack.key(k) for k in ("unit-desk", "unit-land", "unit-other-land", "dev-ops"))
    late = [file_land(stack, DESK, MONDAY) for _ in range(2)]
    with api(stack) as c:  # accepted now: its first step is not overdue
        body = {"procedure_code": LAND, "receiving_unit_code": DESK, "channel": "in_person"}
        fresh = ok(c.post("/v1/dossiers", json={**body, "applicant": {"full_name": "Lê Thị Hoa"}}), 201)["code"]
    ids = {code: step_ids(stack, code) for code in [*late, fresh]}
    first = ids[late[0]][0]

    mine = set(late) | {fresh}
    late.sort(key=lambda code: ids[code][0])  # handed over at the same instant: then by step id
    paged = [c for c in inbox_codes(stack, desk, DESK, limit=1) if c in mine]
    assert paged == [*late, fresh]  # oldest handover first, one a page
    assert [c for c in inbox_codes(stack, desk, DESK, overdue="true") if c in mine] == late
    assert [c for c in inbox_codes(stack, desk, DESK, overdue="false") if c in mine] == [fresh]
    assert [c for c in inbox_codes(stack, ops, DESK, status="assigned") if c in mine] == [*late, fresh]
    assert [c for c in inbox_codes(stack, desk, DESK, status="accepted") if c in mine] == []
    assert inbox_codes(stack, other, OTHER_LAND_OFFICE) == []

    with client(stack, "routing", land) as c:
        problem(c.get(f"/v1/units/{DESK}/inbox"), 403)
        problem(c.get(f"/v1/steps/{first}"), 403)
        problem(c.post(f"/v1/steps/{first}/accept", json={}), 403)
        assert ok(c.get(f"/v1/dossiers/{late[0]}/route"))["steps"][1]["unit_code"] == LAND_OFFICE  # it holds steps
    with client(stack, "routing", other) as c:
        problem(c.get(f"/v1/dossiers/{late[0]}/route"), 403)
        problem(c.get(f"/v1/dossiers/{late[0]}/handovers"), 403)
        problem(c.get(f"/v1/units/{LAND_OFFICE}/inbox"), 403)
    with client(stack, "routing", ops) as c:  # read: may read, not act
        assert ok(c.get(f"/v1/steps/{first}"))["status"] == "assigned"
        problem(c.post(f"/v1/steps/{first}/accept", json={}), 403)
    with client(stack, "routing", desk) as c:
        backdated = problem(c.post(f"/v1/steps/{first}/accept", json={"occurred_at": MONDAY.isoformat()}), 403)
        assert [e["field"] for e in backdated["errors"]] == ["occurred_at"]
        early = problem(c.post(f"/v1/steps/{first}/complete", json={}), 409)
        assert early["step_status"] == "assigned"
        problem(c.get("/v1/dossiers/H56.101-000000-0000/route"), 404)
        problem(c.post("/v1/steps/00000000-0000-0000-0000-000000000000/accept", json={}), 404)
        headers = {"Idempotency-Key": "accept-once"}
        once = c.post(f"/v1/steps/{first}/accept", json={"note": "Đã nhận"}, headers=headers)
        again = c.post(f"/v1/steps/{first}/accept", json={"note": "Đã nhận"}, headers=headers)
    assert once.status_code == again.status_code == 200 and once.json() == again.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert ok(once)["status"] == "accepted" and "complete" in ok(once)["allowed_actions"]


def test_two_concurrent_completes_of_one_step_one_wins(stack: DevStack) -> None:
    desk = stack.key("unit-desk")
    for round_ in range(3):
        code = file_land(stack, DESK, MONDAY)
        first = step_ids(stack, code)[0]
        act(stack, desk, first, "accept")

        def complete(n: int, first: str = first, round_: int = round_) -> httpx.Response:
            headers = {"Authorization": f"Bearer {desk}", "Idempotency-Key": f"complete-{round_}-{n}"}
            return httpx.post(
                f"{stack.config.url('routing')}/v1/steps/{first}/complete",
                json={"outcome": "approved"},
                headers=headers,
                timeout=30,
            )

        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(complete, range(2)))
        assert sorted(r.status_code for r in answers) == [200, 409], [r.text for r in answers]
        lost = next(r for r in answers if r.status_code == 409)
        assert lost.headers["content-type"] == "application/problem+json"
        rows = slip(stack, code)
        assert [(r["seq"], r["attempt"], r["ended"]) for r in rows] == [(1, 1, "completed"), (2, 1, None)]


def test_a_send_back_reassigns_an_earlier_step_and_keeps_the_history(stack: DevStack) -> None:
    code = file_land(stack, DESK, MONDAY)
    ids = step_ids(stack, code)
    times = [(vn(2026, 11, 16, 9, 10), vn(2026, 11, 16, 9, 30)), (vn(2026, 11, 16, 10, 0), vn(2026, 11, 17, 10, 0))]
    for step_id, (accept_at, complete_at) in zip(ids, times, strict=False):
        act(stack, None, step_id, "accept", {"occurred_at": accept_at.isoformat()})
        act(stack, None, step_id, "complete", {"occurred_at": complete_at.isoformat()})
    act(stack, None, ids[2], "accept", {"occurred_at": vn(2026, 11, 17, 14, 0).isoformat()})
    sent_at = vn(2026, 11, 18, 9, 0)
    reason = "Diện tích thửa đất trên đơn khác bản đồ địa chính"
    sent = act(
        stack,
        None,
        ids[2],
        "send-back",
        {"to_step_key": "appraise", "reason": reason, "occurred_at": sent_at.isoformat()},
    )
    assert (sent["status"], sent["attempt"], sent["assigned_at"]) == ("planned", 1, None)
    again = step(stack, ids[1])
    assert (again["status"], again["attempt"], at(again["assigned_at"])) == ("assigned", 2, sent_at)
    assert at(again["deadline_at"]) == CAL.add_working_minutes(sent_at, again["budget_minutes"])
    assert step(stack, ids[0])["status"] == "completed"

    rows = slip(stack, code)
    assert [(r["seq"], r["attempt"], r["kind"], r["ended"]) for r in rows] == [
        (1, 1, "forwarded", "completed"),
        (2, 1, "forwarded", "completed"),
        (3, 1, "forwarded", "sent_back"),
        (2, 2, "sent_back", None),
    ]
    assert at(rows[1]["finished_at"]) == vn(2026, 11, 17, 10, 0) and rows[1]["result"] == "early"  # unchanged
    assert (at(rows[2]["finished_at"]), rows[2]["note"], rows[2]["result"]) == (sent_at, reason, None)
    assert (rows[3]["handing_over_unit_code"], rows[3]["receiving_unit_code"]) == (TAX, LAND_OFFICE)
    assert (at(rows[3]["handed_over_at"]), rows[3]["reason"]) == (sent_at, reason)

    land, tax = stack.key("unit-land"), stack.key("unit-tax")
    with client(stack, "routing", land) as c:
        for body, field in (
            ({"to_seq": 3, "reason": "x"}, "to_seq"),  # not earlier
            ({"to_seq": 1, "to_step_key": "intake", "reason": "x"}, "to_step_key"),  # both
            ({"to_step_key": "nope", "reason": "x"}, "to_step_key"),
        ):
            refused = problem(c.post(f"/v1/steps/{ids[1]}/send-back", json=body), 422)
            assert [e["field"] for e in refused["errors"]] == [field]
    with client(stack, "routing", tax) as c:
        assert problem(c.post(f"/v1/steps/{ids[2]}/accept", json={}), 409)["step_status"] == "planned"

    act(stack, land, ids[1], "accept")
    act(stack, land, ids[1], "complete", {"note": "Đã đối chiếu lại"})
    act(stack, tax, ids[2], "report-failure", {"reason": "Hồ sơ điện tử thiếu tệp bản đồ"})
    with client(stack, "routing", tax) as c:
        assert problem(c.post(f"/v1/steps/{ids[2]}/report-failure", json={"reason": "lần hai"}), 409)
    rows = slip(stack, code)
    assert [(r["seq"], r["attempt"]) for r in rows] == [(1, 1), (2, 1), (3, 1), (2, 2), (3, 2)]
    assert (rows[4]["handing_over_unit_code"], rows[4]["kind"]) == (LAND_OFFICE, "forwarded")
    failure = rows[4]["failure"]
    assert (failure["reported_by"], failure["reason"]) == (TAX, "Hồ sơ điện tử thiếu tệp bản đồ")
    assert rows[2]["failure"] is None
    assert step(stack, ids[2])["attempt"] == 2


def test_intake_pauses_resume_and_withdrawal_reach_the_route(stack: DevStack) -> None:
    code = file_land(stack, DESK, MONDAY)
    first = step_ids(stack, code)[0]
    wait_status(stack, code, "in_progress")
    desk_key = stack.key(f"dev-desk-{DESK}")
    with api(stack, desk_key) as c:
        ok(c.post(f"/v1/dossiers/{code}/supplement-requests", json={"items": ["Bản đồ"], "reason": "Thiếu"}))
    paused = wait_until(lambda: (s := step(stack, first))["status"] == "paused_for_citizen" and s, 60, "the pause")
    assert paused["pause_kind"] == "supplement" and paused["overdue"]  # it was overdue when it paused
    with api(stack, desk_key) as c:
        ok(c.post(f"/v1/dossiers/{code}/supplements", json={"items": ["Bản đồ"]}))
    resumed = wait_until(lambda: (s := step(stack, first))["status"] == "assigned" and s, 60, "the resumption")
    assert at(resumed["deadline_at"]) >= at(paused["deadline_at"])

    with api(stack, desk_key) as c:
        ok(c.post(f"/v1/dossiers/{code}/withdraw", json={"reason": "Công dân rút hồ sơ"}))
    closed = wait_until(lambda: (r := routed(stack, code))["status"] == "withdrawn" and r, 60, "the route to close")
    assert {s["status"] for s in closed["steps"]} == {"cancelled"}
    (row,) = slip(stack, code)
    assert (row["ended"], row["result"]) == ("cancelled", None)
    with client(stack, "routing", stack.key("unit-desk")) as c:
        assert problem(c.post(f"/v1/steps/{first}/accept", json={}), 409)["step_status"] == "cancelled"


def test_a_rejection_resolves_the_dossier_and_skips_the_steps_left(stack: DevStack) -> None:
    desk = stack.key("unit-desk")
    code = file_land(stack, DESK, MONDAY)
    first = step_ids(stack, code)[0]
    act(stack, desk, first, "accept")
    rejected = act(stack, desk, first, "complete", {"outcome": "rejected", "note": "Đất đang có tranh chấp"})
    route = routed(stack, code)
    assert (route["status"], route["outcome"]) == ("resolved", "rejected")
    assert [s["status"] for s in route["steps"]] == ["completed"] + ["skipped"] * 5
    resolved = wait_status(stack, code, "resolved")
    (event,) = [e for e in resolved["timeline"] if e["type"] == "dossier.resolved"]
    assert (event["detail"]["outcome"], event["detail"]["note"]) == ("rejected", "Đất đang có tranh chấp")
    assert at(event["occurred_at"]) == at(rejected["finished_at"])
