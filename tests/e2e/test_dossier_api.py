"""Intake's dossier API end to end, over real HTTP against the running services: the portal and desk flow,
every lifecycle action, listing, dossier codes under concurrency, Idempotency-Key, field-level errors,
the per-key rate limit and the audit log."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from services.devstack import DevStack
from tests.support.dossier_api import (
    act,
    all_pages,
    api,
    codes,
    dossier,
    error_fields,
    ok,
    own_timeline,
    problem,
    wait_routed,
)
from tests.support.infra import Broker
from tests.support.stacks import db_rows, key_id, running_stack
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

VN = ZoneInfo("Asia/Ho_Chi_Minh")
LAND = "1.012777.000.00.00.H56"  # 10 working days; commune, land office or service centre
LAND_FIRST = "1.012766.000.00.00.H56"  # 20 working days; same units
MARITAL = "1.004873.000.00.00.H56"  # 3 working days; commune
APPLICANT = {
    "full_name": "Trần Thị Bích",
    "id_number": "001203004567",
    "phone": "0987 654 321",
    "email": "bich.tran@example.vn",
    "address": "5 Nguyễn Huệ, phường Sơn Hà",
}


# Units above the communes must say which commune an interconnected dossier concerns.
COMMUNE_FOR = {"H56.VPDK.01": "H56.101", "H56.TTPVHCC": "H56.102"}


def body(procedure: str = LAND, unit: str = "H56.101", **extra: Any) -> dict[str, Any]:
    commune = {"commune_code": COMMUNE_FOR[unit]} if unit in COMMUNE_FOR else {}
    return {
        "procedure_code": procedure,
        "receiving_unit_code": unit,
        "channel": "in_person",
        "applicant": APPLICANT,
        "documents": [{"name": "Đơn đăng ký biến động (Mẫu số 11/ĐK)", "copies": 1}],
        **commune,
        **extra,
    }


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, broker: Broker) -> Iterator[DevStack]:
    with running_stack(tmp_path_factory.mktemp("dossier-api"), broker, extra_keys={"other-portal": ["portal"]}) as s:
        yield s


def file(stack: DevStack, key: str | None = None, **fields: Any) -> dict[str, Any]:
    with api(stack, key) as c:
        return ok(c.post("/v1/dossiers", json=body(**fields)), 201)


# --- the portal files, the desk accepts ------------------------------------------------------------------


def test_a_portal_files_and_the_desk_accepts(stack: DevStack) -> None:
    portal, desk, ops = stack.key("dev-portal"), stack.key("dev-desk-H56.101"), stack.key("dev-ops")
    with api(stack, portal) as c:
        response = c.post("/v1/dossiers", json=body(channel="online", result_delivery="postal"))
    filed = ok(response, 201)
    code = filed["code"]
    assert response.headers["location"] == f"/v1/dossiers/{code}"
    assert (filed["status"], filed["status_code"]) == ("submitted", 1)
    assert filed["accepted_at"] is None and filed["appointment_at"] is None
    assert "accept" in filed["allowed_actions"]

    with api(stack, portal) as c:
        problem(c.post(f"/v1/dossiers/{code}/accept", json={}), 403)
    with api(stack, ops) as c:
        problem(c.post(f"/v1/dossiers/{code}/accept", json={}), 403)
    with api(stack, desk) as c:
        backdated = problem(
            c.post(f"/v1/dossiers/{code}/accept", json={"occurred_at": "2026-11-02T09:00:00+07:00"}), 403
        )
        assert [e["field"] for e in backdated["errors"]] == ["occurred_at"]
        accepted = ok(c.post(f"/v1/dossiers/{code}/accept", json={}))
    assert (accepted["status"], accepted["status_code"]) == ("accepted", 2)
    accepted_at = datetime.fromisoformat(accepted["accepted_at"])
    appointment = datetime.fromisoformat(accepted["appointment_at"])
    # 10 working days from now: at least two weekends in between, and not beyond a month.
    assert timedelta(days=12) < appointment - accepted_at < timedelta(days=31)
    assert accepted["original_appointment_at"] == accepted["appointment_at"]
    assert datetime.fromisoformat(accepted["received_at"]) == datetime.fromisoformat(filed["received_at"])

    wait_routed(stack, code)
    with api(stack, desk) as c:
        again = problem(c.post(f"/v1/dossiers/{code}/accept", json={}), 409)
        refused = problem(c.post(f"/v1/dossiers/{code}/refuse", json={"reason": "Thiếu hồ sơ"}), 409)
    assert (again["dossier_status"], again["dossier_status_code"]) == ("in_progress", 4)
    assert again["detail"] == "cannot accept a dossier that is in progress"
    assert refused["dossier_status"] == "in_progress"

    # Only the effects are audited, each with the key that caused it.
    rows = db_rows(
        stack, "intake", "SELECT key_id, key_name, action FROM audit_log WHERE target = :c ORDER BY id", c=code
    )
    assert rows == [
        (key_id(portal), "dev-portal", "dossier.submitted"),
        (key_id(desk), "dev-desk-H56.101", "dossier.accepted"),
    ]
    timeline = dossier(stack, code)["timeline"]
    assert timeline[1]["type"] == "dossier.accepted"
    assert timeline[1]["actor"] == f"dev-desk-H56.101 ({key_id(desk)})"


def test_a_portal_sees_only_its_own_dossiers_and_a_reader_sees_all(stack: DevStack) -> None:
    portal, other, ops, desk = (stack.key(k) for k in ("dev-portal", "other-portal", "dev-ops", "dev-desk-H56.101"))
    mine = file(stack, portal, channel="online")["code"]
    theirs = file(stack, other, channel="online", unit="H56.102")["code"]
    assert dossier(stack, mine, portal)["code"] == mine
    with api(stack, other) as c:
        problem(c.get(f"/v1/dossiers/{mine}"), 404)
        problem(c.post(f"/v1/dossiers/{mine}/withdraw", json={"reason": "Nhầm"}), 403)
    with api(stack, desk) as c:  # the desk of H56.101 does not see H56.102's dossiers
        problem(c.get(f"/v1/dossiers/{theirs}"), 404)
    assert dossier(stack, mine, ops)["status"] == "submitted"
    assert dossier(stack, theirs, ops)["status"] == "submitted"
    assert mine in codes(stack, portal) and theirs not in codes(stack, portal)
    assert theirs in codes(stack, other) and mine not in codes(stack, other)
    assert {mine, theirs} <= set(codes(stack, ops))


# --- the lifecycle -------------------------------------------------------------------------------------


def test_every_desk_action_moves_the_dossier_and_lands_on_its_timeline(stack: DevStack) -> None:
    desk = stack.key("dev-desk-H56.101")
    code = file(stack, desk, procedure=MARITAL)["code"]
    assert wait_routed(stack, code)["status"] == "in_progress"

    def step(path: str, payload: dict[str, Any], status: str, status_code: int) -> dict[str, Any]:
        moved = act(stack, desk, code, path, payload)
        assert (moved["status"], moved["status_code"]) == (status, status_code), path
        return moved

    assert act(stack, desk, code, "return", {}, 409)["dossier_status"] == "in_progress"
    paused = step(
        "supplement-requests", {"items": ["Bản sao giấy khai sinh"], "reason": "Thiếu"}, "supplement_requested", 5
    )
    assert set(paused["allowed_actions"]) == {"supplement", "withdraw", "stop"}
    act(stack, desk, code, "financial-obligations", {"items": ["Lệ phí"]}, 409)
    step("supplements", {"items": ["Bản sao giấy khai sinh"]}, "in_progress", 4)
    step(
        "financial-obligations",
        {"items": ["Lệ phí"], "amount_vnd": 50000, "reason": "Lệ phí cấp giấy"},
        "financial_obligation",
        6,
    )
    step("payments", {"receipt_reference": "BL-000123"}, "in_progress", 4)
    stopped = step("stop", {"reason": "Có tranh chấp"}, "stopped", 8)
    assert stopped["allowed_actions"] == []
    act(stack, desk, code, "withdraw", {"reason": "Không cần nữa"}, 409)
    assert act(stack, desk, code, "return", {}, 409)["dossier_status_code"] == 8

    detail = dossier(stack, code)
    assert detail["status_reason"] == "Có tranh chấp"
    assert own_timeline(stack, code) == [
        ("dossier.accepted", "accepted"),
        ("route.planned", "in_progress"),
        ("step.assigned", "in_progress"),
        ("dossier.supplement_requested", "supplement_requested"),
        ("dossier.supplemented", "in_progress"),
        ("dossier.financial_obligation_set", "financial_obligation"),
        ("dossier.paid", "in_progress"),
        ("dossier.stopped", "stopped"),
    ]
    desk_entries = [e for e in detail["timeline"] if e["actor"] not in ("routing", "sla")]
    assert all(e["actor"] == f"dev-desk-H56.101 ({key_id(desk)})" for e in desk_entries)
    times = [datetime.fromisoformat(e["occurred_at"]) for e in desk_entries]
    assert times == sorted(times)
    by_type = {e["type"]: e for e in desk_entries}
    assert by_type["dossier.supplement_requested"]["detail"]["items"] == ["Bản sao giấy khai sinh"]
    assert by_type["dossier.supplement_requested"]["detail"]["before_acceptance"] is False
    assert by_type["dossier.financial_obligation_set"]["detail"]["amount_vnd"] == 50000
    assert by_type["dossier.paid"]["detail"]["receipt_reference"] == "BL-000123"


def test_a_supplement_before_acceptance_and_a_withdrawal_by_the_citizen(stack: DevStack) -> None:
    portal, desk = stack.key("dev-portal"), stack.key("dev-desk-H56.101")
    code = file(stack, portal, procedure=MARITAL, channel="online")["code"]
    slip = act(stack, desk, code, "supplement-requests", {"items": ["Tờ khai có chữ ký"], "reason": "Chưa ký"})
    assert (slip["status_code"], slip["appointment_at"]) == (5, None)
    assert act(stack, desk, code, "supplements", {"items": ["Tờ khai có chữ ký"]})["status"] == "submitted"
    act(stack, desk, code, "return", {}, 409)
    assert act(stack, desk, code, "accept", {})["status_code"] == 2
    wait_routed(stack, code)
    withdrawn = act(stack, portal, code, "withdraw", {"reason": "Không còn nhu cầu"})
    assert (withdrawn["status"], withdrawn["status_code"], withdrawn["allowed_actions"]) == ("withdrawn", 7, [])
    assert act(stack, portal, code, "withdraw", {"reason": "Lần nữa"}, 409)["dossier_status"] == "withdrawn"
    act(stack, desk, code, "return", {}, 409)
    assert own_timeline(stack, code) == [
        ("dossier.submitted", "submitted"),
        ("dossier.supplement_requested", "supplement_requested"),
        ("dossier.supplemented", "submitted"),
        ("dossier.accepted", "accepted"),
        ("route.planned", "in_progress"),
        ("step.assigned", "in_progress"),
        ("dossier.withdrawn", "withdrawn"),
    ]
    requested = next(e for e in dossier(stack, code)["timeline"] if e["type"] == "dossier.supplement_requested")
    assert requested["detail"]["before_acceptance"] is True


def test_a_dossier_paused_before_routing_took_it_up_resumes_in_progress(stack: DevStack, broker: Broker) -> None:
    desk = stack.key("dev-desk-H56.101")
    broker.stop()  # dossier.accepted waits in intake's outbox
    try:
        code = file(stack, desk, procedure=MARITAL)["code"]
        act(stack, desk, code, "supplement-requests", {"items": ["Bản sao"], "reason": "Thiếu"})
    finally:
        broker.start()
    wait_routed(stack, code)
    assert act(stack, desk, code, "supplements", {"items": ["Bản sao"]})["status"] == "in_progress"


# --- listing ---------------------------------------------------------------------------------------------


def test_listing_filters_and_walks_every_page_once(stack: DevStack) -> None:
    unit, portal = "H56.TTPVHCC", stack.key("dev-portal")
    # Four dossiers received at the very same instant: the cursor must break the tie by code.
    same_instant = datetime(2026, 11, 2, 9, 0, tzinfo=VN).isoformat()
    backdated = [
        file(stack, unit=unit, procedure=p, occurred_at=same_instant, commune_code="H56.102")["code"]
        for p in (LAND, LAND_FIRST, LAND, LAND)
    ]
    online = [
        file(stack, portal, unit=unit, procedure=p, channel="online", commune_code="H56.103")["code"]
        for p in (LAND, LAND_FIRST, LAND)
    ]
    act(stack, stack.admin_key, online[2], "refuse", {"reason": "Không thuộc thẩm quyền"})
    everything = sorted(backdated) + online  # oldest first, ties by code

    pages = all_pages(stack, unit=unit, limit=3)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [d["code"] for p in pages for d in p] == everything
    assert [[d["code"] for d in p] for p in all_pages(stack, unit=unit, limit=1)] == [[c] for c in everything]
    assert codes(stack, unit=unit, procedure=LAND_FIRST) == [backdated[1], online[1]]
    assert codes(stack, unit=unit, status="submitted") == online[:2]
    assert codes(stack, unit=unit, status="refused") == [online[2]]
    assert codes(stack, unit=unit, procedure=LAND_FIRST, status="submitted") == [online[1]]
    assert codes(stack, portal, unit=unit) == online
    assert codes(stack, unit=unit, **{"from": "2026-11-02T02:00:00Z", "to": "2026-11-02T02:00:01Z"}) == sorted(
        backdated
    )
    with api(stack) as c:
        assert error_fields(c.get("/v1/dossiers", params={"cursor": "not-a-cursor"})) == ["cursor"]


def test_naive_times_in_the_query_are_refused(stack: DevStack) -> None:
    forged = base64.urlsafe_b64encode(b"2026-11-02T09:00:00|H56.101-261102-0001").decode()
    with api(stack) as c:
        assert error_fields(c.get("/v1/dossiers", params={"cursor": forged})) == ["cursor"]
        assert error_fields(c.get("/v1/dossiers", params={"from": "2026-11-02T09:00:00"})) == ["from"]


# --- codes -------------------------------------------------------------------------------------------------


def test_forty_concurrent_filings_get_forty_consecutive_codes(stack: DevStack) -> None:
    unit = "H56.VPDK.02"  # no other test files here
    assert codes(stack, unit=unit) == []
    url, auth = f"{stack.config.url('intake')}/v1/dossiers", {"Authorization": f"Bearer {stack.admin_key}"}

    def post(_: int) -> dict[str, Any]:
        return ok(httpx.post(url, json=body(unit=unit), headers=auth, timeout=120), 201)

    with ThreadPoolExecutor(40) as pool:
        filed = list(pool.map(post, range(40)))
    days = {datetime.fromisoformat(d["received_at"]).astimezone(VN).strftime("%y%m%d") for d in filed}
    assert len(days) == 1, days
    (day,) = days
    assert sorted(d["code"] for d in filed) == [f"{unit}-{day}-{n:04d}" for n in range(1, 41)]
    assert sorted(dossier(stack, d["code"])["tracking_number"] for d in filed) == list(range(1, 41))


# --- Idempotency-Key ---------------------------------------------------------------------------------------


def test_the_same_idempotency_key_replays_the_first_answer(stack: DevStack) -> None:
    unit, portal = "H56.VPDK.01", stack.key("dev-portal")
    request = body(unit=unit)
    with api(stack) as c:
        first = c.post("/v1/dossiers", json=request, headers={"Idempotency-Key": "filing-1"})
        second = c.post("/v1/dossiers", json=request, headers={"Idempotency-Key": "filing-1"})
        other = c.post("/v1/dossiers", json=body(unit=unit, channel="postal"), headers={"Idempotency-Key": "filing-1"})
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.content == first.content
    assert second.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert second.headers["location"] == first.headers["location"]
    problem(other, 422)
    code = first.json()["code"]
    assert codes(stack, unit=unit) == [code]

    with api(stack, portal) as c:  # keys are per API key: the portal's "filing-1" is its own
        theirs = ok(c.post("/v1/dossiers", json=request, headers={"Idempotency-Key": "filing-1"}), 201)
    assert theirs["code"] != code and theirs["status"] == "submitted"
    with api(stack) as c:  # an action retried with its key is answered again, not refused as a conflict
        refusals = [
            c.post(f"/v1/dossiers/{theirs['code']}/refuse", json={"reason": "Sai"}, headers={"Idempotency-Key": "r"})
            for _ in range(2)
        ]
        assert [r.status_code for r in refusals] == [200, 200] and refusals[0].content == refusals[1].content
        problem(c.post(f"/v1/dossiers/{theirs['code']}/refuse", json={"reason": "Sai"}), 409)
    assert codes(stack, unit=unit) == [code, theirs["code"]]


def test_concurrent_requests_with_one_idempotency_key_file_one_dossier(stack: DevStack) -> None:
    unit = "H56.VPDK.01"
    before = codes(stack, unit=unit)
    url = f"{stack.config.url('intake')}/v1/dossiers"
    headers = {"Authorization": f"Bearer {stack.admin_key}", "Idempotency-Key": "concurrent-1"}

    def post(_: int) -> httpx.Response:
        return httpx.post(url, json=body(unit=unit, procedure=LAND_FIRST), headers=headers, timeout=120)

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(post, range(8)))
    assert [r.status_code for r in responses] == [201] * 8, [r.text for r in responses]
    assert len({r.content for r in responses}) == 1
    after = codes(stack, unit=unit)
    assert after[: len(before)] == before and after[len(before) :] == [responses[0].json()["code"]]


# --- bad input ---------------------------------------------------------------------------------------------

BAD = [
    pytest.param(body(procedure="9.999999.000.00.00.H56"), "procedure_code", id="unknown-procedure"),
    pytest.param(body(unit="H56.999"), "receiving_unit_code", id="unknown-unit"),
    pytest.param(body(unit="H56.101.CA"), "receiving_unit_code", id="unit-not-receiving-the-procedure"),
    # Chứng thực bản sao is received in person only; kết hôn never by post and returned at the desk only.
    pytest.param(body(procedure="2.000815.000.00.00.H56", channel="online"), "channel", id="channel-not-allowed"),
    pytest.param(body(procedure="1.000894.000.00.00.H56", channel="postal"), "channel", id="postal-not-allowed"),
    pytest.param(
        body(procedure="1.000894.000.00.00.H56", result_delivery="postal"), "result_delivery", id="delivery-not-allowed"
    ),
    pytest.param(body(applicant={**APPLICANT, "phone": "12345"}), "applicant.phone", id="phone"),
    pytest.param(body(applicant={**APPLICANT, "id_number": "12345678901"}), "applicant.id_number", id="id-11-digits"),
    pytest.param(body(applicant={**APPLICANT, "id_number": "999123456789"}), "applicant.id_number", id="id-province"),
    pytest.param(body(applicant={**APPLICANT, "email": "bich.tran@"}), "applicant.email", id="email"),
    pytest.param(body(proxy={"full_name": "Trần Văn Cường", "phone": "0123"}), "proxy.phone", id="proxy-phone"),
    pytest.param(body(occurred_at="2099-01-01T08:00:00+07:00"), "occurred_at", id="future-occurred-at"),
    pytest.param(
        body(unit="H56.TTPVHCC", commune_code=None), "commune_code", id="interconnected-above-communes-without-commune"
    ),
    pytest.param(body(unit="H56.101", commune_code="H56.102"), "commune_code", id="commune-outside-the-area"),
]


@pytest.mark.parametrize(("request_body", "field"), BAD)
def test_bad_input_is_refused_field_by_field(stack: DevStack, request_body: dict[str, Any], field: str) -> None:
    before = len(codes(stack))
    with api(stack) as c:
        response = c.post("/v1/dossiers", json=request_body)
    assert error_fields(response) == [field]
    assert all(e["source"] == "body" and e["reason"] for e in response.json()["errors"])
    assert len(codes(stack)) == before, "a refused request filed a dossier"


# --- rate limit --------------------------------------------------------------------------------------------


def test_a_key_going_too_fast_is_told_when_to_come_back(
    tmp_path_factory: pytest.TempPathFactory, broker: Broker
) -> None:
    limits = {"LIENTHONG_INTAKE_RATE_LIMIT_PER_S": "0.5", "LIENTHONG_INTAKE_RATE_LIMIT_BURST": "3"}
    workdir = tmp_path_factory.mktemp("rate-limit")
    with running_stack(workdir, broker, extra_env=limits, services=["intake"]) as s, api(s, s.key("dev-ops")) as c:
        # A burst of 3, then one token every 2 s: a slow machine may earn a token back while it sends.
        answers: list[httpx.Response] = []
        while len(answers) < 10 and (not answers or answers[-1].status_code == 200):
            answers.append(c.get("/v1/dossiers"))
        assert [r.status_code for r in answers[:3]] == [200, 200, 200]
        limited = answers[-1]
        detail = problem(limited, 429)["detail"]
        retry_after = int(limited.headers["retry-after"])
        assert 1 <= retry_after <= 2, retry_after
        assert "0.5 requests a second" in detail
        with api(s) as admin:  # the limit is per key
            assert admin.get("/v1/dossiers").status_code == 200
        assert httpx.get(f"{s.config.url('intake')}/healthz").status_code == 200
        wait_until(lambda: c.get("/v1/dossiers").status_code == 200, retry_after + 5, "the limit to lift")
