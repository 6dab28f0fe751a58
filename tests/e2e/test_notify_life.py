"""A dossier's whole life through the public APIs brings the citizen exactly the expected messages, once
each, on the expected channels; the post collects the dossier and delivers the result with tracking numbers;
units and the desk are alerted before and after a step's deadline; redelivering every event sends nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from services.devstack import DevStack
from shared.calendar import VIETNAM_TZ, vietnam_calendar
from tests.e2e.conftest import client
from tests.support.dossier_api import act, api, dossier, ok
from tests.support.infra import Broker
from tests.support.notify_api import (
    metric,
    notifications,
    postal_orders,
    sandbox_get,
    sandbox_post,
)
from tests.support.redelivery import republish
from tests.support.routing_api import LAND, routed, step
from tests.support.routing_api import act as step_act
from tests.support.stacks import running_stack
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

PHONE, EMAIL = "0913000111", "le.thi.hoa@example.vn"
ADDRESS = "12 Lê Lợi, phường Sơn Hà, tỉnh Quảng Ngãi"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, broker: Broker) -> Iterator[DevStack]:
    env = {
        "LIENTHONG_SLA_SWEEP_INTERVAL_S": "1",
        # The alerts test files back-dated dossiers whose overdue steps are announced as they are found.
        "LIENTHONG_NOTIFY_BACK_DATED_AFTER_H": "2400",
    }
    keys = {"other-desk": ["desk:H56.102"]}
    with running_stack(tmp_path_factory.mktemp("notify-life"), broker, extra_env=env, extra_keys=keys) as s:
        yield s


def last_working_morning() -> datetime:
    """08:00 of the last working day before today (Vietnam time): a desk's actions at that hour hand the
    first step over at once, whatever hour the suite runs at."""
    calendar = vietnam_calendar()
    day = datetime.now(VIETNAM_TZ).date() - timedelta(days=1)
    while not calendar.is_working_day(day):
        day -= timedelta(days=1)
    return datetime.combine(day, time(8, 0), VIETNAM_TZ)


def settled(stack: DevStack, code: str, count: int, audience: str | None = "citizen") -> list[dict[str, Any]]:
    """Wait until ``count`` notifications exist and none is still on its way."""

    def check() -> list[dict[str, Any]] | None:
        items = notifications(stack, code, audience)
        done = all(n["status"] in ("sent", "delivered") for n in items)
        return items if len(items) >= count and done else None

    return wait_until(check, 90, f"{count} notifications of {code} to be sent")


def advance(stack: DevStack, tracking: str, status: str) -> None:
    answer = sandbox_post(stack, f"/sandbox/postal/orders/{tracking}/advance", {"status": status})
    assert "applied" in str(answer), answer


def exactly_the_expected_messages(
    stack: DevStack, code: str, expected: list[str], tracking: str
) -> list[dict[str, Any]]:
    """Each expected template once by SMS and once by email, in order, and at the operators exactly once."""
    items = notifications(stack, code)
    assert Counter((n["template"], n["channel"]) for n in items) == Counter(
        (t, ch) for t in expected for ch in ("sms", "email")
    ), [(n["template"], n["channel"]) for n in items]
    # In the order they happened, each with the dossier code and the tracking link.
    assert list(dict.fromkeys(n["template"] for n in items)) == expected
    for n in items:
        assert code in n["body"] and f"/track/{code}" in n["body"], n["body"]
        assert n["template_version"] >= 1 and n["provider_reference"]
        assert n["history"][0]["status"] == "created" and n["history"][1]["status"] == "sending"
    sms = [n for n in items if n["channel"] == "sms"]
    assert all(n["parts"] and n["parts"] >= 1 and n["encoding"] == "unicode" for n in sms)
    by_template = {n["template"]: n for n in sms}
    assert "1.250.000 đồng" in by_template["dossier.payment_due"]["body"]
    assert tracking in by_template["result.ready_postal"]["body"]
    assert "Bản sao sổ đỏ" in by_template["dossier.supplement_requested"]["body"]

    # The operators hold exactly one copy of each message, under our ids.
    at_operator = [m for m in sandbox_get(stack, "/sandbox/sms/all") if m["to"] == PHONE]
    assert sorted(m["reference"] for m in at_operator) == sorted(n["id"] for n in sms)
    mailbox = sandbox_get(stack, "/email/messages", to=EMAIL)
    assert len(mailbox) == len(expected)
    assert {m["subject"] for m in mailbox} == {n["subject"] for n in items if n["channel"] == "email"}

    return items


def redelivery_changes_nothing(stack: DevStack, code: str, items: list[dict[str, Any]], emails: int) -> None:
    """Redeliver every event of the dossier, byte for byte: no notification, message or order is added."""
    sms = [n for n in items if n["channel"] == "sms"]
    before_all = len(notifications(stack, code, None))

    def seen() -> tuple[float, float]:
        def processed(result: str) -> float:
            return metric(stack, "notify", "lienthong_events_processed_total", consumer="notify", result=result)

        return processed("duplicate"), processed("ignored")

    duplicates, ignored = seen()
    count = republish(stack, ["intake.dossier.v1", "routing.step.v1", "sla.clock.v1"], code)
    assert count >= 10
    # Every copy is either recognised by the inbox (a type notify handles) or a type it ignores.
    wait_until(
        lambda: sum(seen()) >= duplicates + ignored + count,
        90,
        f"notify to see {count} redelivered events (from {duplicates} duplicates, {ignored} ignored)",
    )
    assert seen()[0] > duplicates
    assert len(notifications(stack, code, None)) == before_all
    assert [n["id"] for n in notifications(stack, code)] == [n["id"] for n in items]
    assert len([m for m in sandbox_get(stack, "/sandbox/sms/all") if m["to"] == PHONE]) == len(sms)
    assert len(sandbox_get(stack, "/email/messages", to=EMAIL)) == emails
    assert len(postal_orders(stack, code)) == 2
    assert metric(stack, "notify", "lienthong_events_dead_lettered_total", consumer="notify") == 0


def test_a_postal_dossiers_life_brings_each_expected_message_once(stack: DevStack) -> None:
    desk = stack.key("dev-desk-H56.101")
    morning = last_working_morning()
    applicant = {"full_name": "Lê Thị Hoa", "phone": PHONE, "email": EMAIL, "address": ADDRESS}
    body = {
        "procedure_code": LAND,
        "receiving_unit_code": "H56.101",
        "channel": "postal",
        "result_delivery": "postal",
        "applicant": applicant,
        "external_id": "BCCI-0001",
        "history": [{"action": "submit", "occurred_at": morning.isoformat()}],
    }
    with api(stack) as c:  # a postal filing dated that morning, so the desk's acceptance can precede now
        code = ok(c.post("/v1/dossiers:import", json=body))["results"][0]["code"]

    # Filed by post: the operator is asked to collect it and the citizen gets the tracking number.
    pickup = wait_until(lambda: [o for o in postal_orders(stack, code) if o["tracking_number"]], 60, "a pickup")[0]
    assert pickup["kind"] == "pickup" and pickup["status"] == "created"
    pickup_messages = settled(stack, code, 2)
    assert {(n["template"], n["channel"]) for n in pickup_messages} == {
        ("postal.pickup_requested", "sms"),
        ("postal.pickup_requested", "email"),
    }
    assert all(pickup["tracking_number"] in n["body"] for n in pickup_messages)
    advance(stack, pickup["tracking_number"], "picked_up")
    wait_until(lambda: "postal.picked_up" in {e["type"] for e in dossier(stack, code)["timeline"]}, 60, "pickup")

    # The desk accepts; a supplement and a fee pause it; the unit rejects the application.
    act(stack, stack.admin_key, code, "accept", {"occurred_at": (morning + timedelta(hours=1)).isoformat()})
    first = routed(stack, code)["steps"][0]["step_id"]

    def step_is(paused: str | None) -> None:
        wait_until(lambda: step(stack, first)["pause_kind"] == paused, 60, f"routing to see the pause {paused}")

    act(stack, desk, code, "supplement-requests", {"items": ["Bản sao sổ đỏ"], "reason": "Bản sao mờ"})
    step_is("supplement")
    act(stack, desk, code, "supplements", {"items": ["Bản sao sổ đỏ"]})
    step_is(None)
    fee = {"items": ["Lệ phí trước bạ"], "amount_vnd": 1250000, "reason": "Nghĩa vụ tài chính"}
    act(stack, desk, code, "financial-obligations", fee)
    step_is("financial_obligation")
    act(stack, desk, code, "payments", {"receipt_reference": "BL-2026-0042"})
    step_is(None)
    step_act(stack, desk, first, "accept")
    step_act(stack, desk, first, "complete", {"outcome": "rejected", "note": "Thửa đất đang tranh chấp"})

    # Resolved with the result going back by post: a delivery order, then the tracking number to the citizen.
    def delivery() -> dict[str, Any] | None:
        orders = [o for o in postal_orders(stack, code) if o["kind"] == "delivery" and o["tracking_number"]]
        return orders[0] if orders else None

    order = wait_until(delivery, 90, "a delivery order")
    items = settled(stack, code, 12)
    advance(stack, order["tracking_number"], "delivered")
    returned = wait_until(lambda: (d := dossier(stack, code))["status"] == "returned" and d, 60, "the return")
    postal_types = [e["type"] for e in returned["timeline"] if e["type"].startswith("postal.")]
    assert postal_types == [
        "postal.pickup_requested",
        "postal.picked_up",
        "postal.delivery_requested",
        "postal.delivered",
    ]

    expected = [
        "postal.pickup_requested",
        "dossier.received_postal",
        "dossier.postal_return_requested",
        "dossier.supplement_requested",
        "dossier.payment_due",
        "result.ready_postal",
    ]
    items = exactly_the_expected_messages(stack, code, expected, order["tracking_number"])
    redelivery_changes_nothing(stack, code, items, len(expected))


@pytest.mark.parametrize(
    ("ending", "path", "payload", "template"),
    [
        ("refused", "refuse", {"reason": "Hồ sơ không thuộc thẩm quyền"}, "dossier.refused"),
        ("withdrawn", "withdraw", {"reason": "Công dân xin rút hồ sơ"}, "dossier.withdrawn"),
        ("stopped", "stop", {"reason": "Có đơn tranh chấp"}, "dossier.stopped"),
    ],
)
def test_an_online_dossier_that_ends_early_tells_the_citizen_why(
    stack: DevStack, ending: str, path: str, payload: dict[str, Any], template: str
) -> None:
    portal, desk = stack.key("dev-portal"), stack.key("dev-desk-H56.101")
    phone = {"refused": "0913000201", "withdrawn": "0913000202", "stopped": "0913000203"}[ending]
    body = {
        "procedure_code": LAND,
        "receiving_unit_code": "H56.101",
        "channel": "online",
        "applicant": {"full_name": "Võ Minh Khang", "phone": phone, "notification_channels": ["sms"]},
    }
    with api(stack, portal) as c:
        code = ok(c.post("/v1/dossiers", json=body), 201)["code"]
    if ending != "refused":
        act(stack, desk, code, "accept", {})
        settled(stack, code, 1)
    act(stack, desk, code, path, payload)
    expected = ([] if ending == "refused" else ["dossier.received_online"]) + [template]
    items = settled(stack, code, len(expected))
    assert [(n["template"], n["channel"]) for n in items] == [(t, "sms") for t in expected]
    if ending != "withdrawn":
        assert payload["reason"][:20] in items[-1]["body"]


def test_units_and_the_desk_hear_of_a_step_going_late_and_the_citizen_gets_the_apology(stack: DevStack) -> None:
    desk = stack.key("dev-desk-H56.101")
    filed_at = datetime.now(UTC) - timedelta(days=4)
    body = {
        "procedure_code": LAND,
        "receiving_unit_code": "H56.101",
        "channel": "in_person",
        "applicant": {"full_name": "Đặng Văn Long", "phone": "0913000301"},
        "occurred_at": filed_at.isoformat(),
    }
    with api(stack) as c:
        code = ok(c.post("/v1/dossiers", json=body), 201)["code"]

    def alerts() -> list[dict[str, Any]] | None:
        items = notifications(stack, code, None)
        templates = {n["template"] for n in items if n["audience"] != "citizen"}
        return items if {"step.assigned", "step.overdue", "desk.step_overdue"} <= templates else None

    items = wait_until(alerts, 90, "the unit's and the desk's alerts")
    unit_alerts = {(n["template"], n["channel"], n["recipient"]) for n in items if n["audience"] != "citizen"}
    assert ("step.assigned", "email", "motcua.h56-101@lienthong.gov.vn") in unit_alerts
    assert ("step.overdue", "email", "motcua.h56-101@lienthong.gov.vn") in unit_alerts
    assert ("step.overdue", "sms", "0240000101") in unit_alerts  # urgent: by SMS too
    assert ("desk.step_overdue", "email", "motcua.h56-101@lienthong.gov.vn") in unit_alerts
    assert ("step.assigned", "sms", "0240000101") not in unit_alerts  # not urgent: email only

    with client(stack, "sla", desk) as c:
        reset = ok(c.post(f"/v1/dossiers/{code}/appointment-reset", json={"reason": "Chờ kết quả đo đạc lại"}))

    def apology() -> dict[str, Any] | None:
        found = [n for n in notifications(stack, code) if n["template"] == "dossier.apology"]
        return found[0] if found and found[0]["status"] in ("sent", "delivered") else None

    sms = wait_until(apology, 90, "the apology")
    assert sms["channel"] == "sms" and sms["urgent"]
    assert "Chờ kết quả đo đạc lại" in sms["body"]
    new_day = datetime.fromisoformat(reset["appointment_at"]).astimezone(UTC) + timedelta(hours=7)
    assert new_day.strftime("%d/%m/%Y") in sms["body"]
    desk_alerts = [n for n in notifications(stack, code, "desk") if n["template"] == "desk.apology_required"]
    assert {n["channel"] for n in desk_alerts} == {"email", "sms"}


def test_the_ops_team_sees_messages_providers_and_postal_orders_in_metrics(stack: DevStack) -> None:
    def delivered_sms() -> float:
        return metric(
            stack,
            "notify",
            "lienthong_notify_notifications_total",
            channel="sms",
            template="dossier.received_desk",
            status="delivered",
        )

    before = delivered_sms()
    body = {
        "procedure_code": LAND,
        "receiving_unit_code": "H56.101",
        "channel": "in_person",
        "applicant": {"full_name": "Bùi Thị Mai", "phone": "0913000401", "notification_channels": ["sms"]},
    }
    with api(stack) as c:
        code = ok(c.post("/v1/dossiers", json=body), 201)["code"]
    wait_until(lambda: [n for n in notifications(stack, code) if n["status"] == "delivered"], 60, "the receipt")
    assert delivered_sms() >= before + 1  # other dossiers' messages may be delivered meanwhile
    assert metric(stack, "notify", "lienthong_notify_provider_seconds_count", provider="sms-a", outcome="accepted") > 0
    assert metric(stack, "notify", "lienthong_notify_receipts_total", provider="sms-a", outcome="applied") > 0
    # The gauges are recounted every 15 s from the tables.
    wait_until(
        lambda: (
            metric(stack, "notify", "lienthong_notify_notifications_in_status", channel="sms", status="delivered") > 0
        ),
        40,
        "the recounted gauge",
    )
    assert metric(stack, "notify", "lienthong_notify_oldest_due_seconds") < 60


def test_a_desk_reads_only_the_messages_of_the_dossiers_its_unit_received(stack: DevStack) -> None:
    body = {
        "procedure_code": LAND,
        "receiving_unit_code": "H56.101",
        "channel": "in_person",
        "applicant": {"full_name": "Hồ Văn Nam", "phone": "0913000501"},
    }
    with api(stack) as c:
        code = ok(c.post("/v1/dossiers", json=body), 201)["code"]
    wait_until(lambda: notifications(stack, code), 60, "the message")
    for path in ("/v1/notifications", "/v1/postal-orders"):
        with client(stack, "notify", stack.key("dev-desk-H56.101")) as own:
            assert own.get(path, params={"dossier_code": code}).status_code == 200
        with client(stack, "notify", stack.key("other-desk")) as other:
            answer = other.get(path, params={"dossier_code": code})
        assert answer.status_code == 404 and answer.headers["content-type"] == "application/problem+json"
    nid = notifications(stack, code)[0]["id"]
    with client(stack, "notify", stack.key("other-desk")) as other:
        assert other.get(f"/v1/notifications/{nid}").status_code == 404
    with client(stack, "notify", stack.key("dev-ops")) as ops:  # the read scope sees every dossier
        assert ops.get(f"/v1/notifications/{nid}").status_code == 200
