"""All four services as separate processes on a real broker, database, SMTP server and SMS sandbox."""

from __future__ import annotations

import asyncio
import signal
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import text

from services.devstack import DevStack
from shared.db import create_engine
from shared.events.envelope import Envelope
from tests.e2e.conftest import client
from tests.support.infra import Broker
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

DOSSIER = {
    "procedure_code": "1.012777.000.00.00.H56",
    "receiving_unit_code": "H56.101",
    "channel": "in_person",
    "applicant": {"full_name": "Trần Thị Bích", "phone": "0987 654 321", "email": "bich.tran@example.vn"},
}


def post_dossier(stack: DevStack, body: dict[str, Any] | None = None) -> str:
    with client(stack, "intake") as c:
        response = c.post("/v1/dossiers", json=body or DOSSIER)
    assert response.status_code == 201, response.text
    return str(response.json()["code"])


def notifications(stack: DevStack, code: str) -> list[dict[str, Any]]:
    with client(stack, "notify") as c:
        response = c.get("/v1/notifications", params={"dossier_code": code})
    assert response.status_code == 200
    items: list[dict[str, Any]] = [n for n in response.json()["items"] if n["audience"] == "citizen"]
    return items


def sandbox(stack: DevStack, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = httpx.get(f"{stack.config.gateway_url}{path}", timeout=10).json()
    return items


def db_scalar(stack: DevStack, service: str, sql: str, **params: Any) -> Any:
    url = stack.service_env(service)["LIENTHONG_DATABASE_URL"].replace("{service}", service)

    async def query() -> Any:
        engine = create_engine(url, service)
        try:
            async with engine.connect() as conn:
                return (await conn.execute(text(sql), params)).scalar_one()
        finally:
            await engine.dispose()

    return asyncio.run(query())


def test_a_dossier_reaches_the_citizen_by_email_and_sms(stack: DevStack) -> None:
    code = post_dossier(stack)

    def both_sent() -> list[dict[str, Any]] | None:
        items = notifications(stack, code)
        return (
            items
            if sorted((n["channel"], n["status"]) for n in items) == [("email", "sent"), ("sms", "delivered")]
            else None
        )

    items = wait_until(both_sent, 30, "the email and the SMS to be sent")
    emails = sandbox(stack, "/email/messages?to=bich.tran@example.vn")
    assert len(emails) == 1
    assert emails[0]["subject"] == f"Hồ sơ {code} đã được tiếp nhận"
    assert code in emails[0]["body"] and "Trần Thị Bích" in emails[0]["body"]
    sms = sandbox(stack, "/sms/messages?to=0987654321")
    assert len(sms) == 1
    assert sms[0]["text"].startswith(f"Hồ sơ {code} đã được tiếp nhận, hẹn trả kết quả ")
    sms_row = next(n for n in items if n["channel"] == "sms")
    assert sms[0]["reference"] == sms_row["id"]
    # The operator's signed receipt moved it on from sent.
    assert [h["status"] for h in sms_row["history"]] == ["created", "sending", "sent", "delivered"]

    with client(stack, "routing") as c:
        route = c.get(f"/v1/dossiers/{code}/route").json()
    # An interconnected route: the first step is handed over at once, the others wait their turn.
    assert [(s["seq"], s["unit_code"], s["status"]) for s in route["steps"][:2]] == [
        (1, "H56.101", "assigned"),
        (2, "H56.VPDK.01", "planned"),
    ]

    def clock_started() -> dict[str, Any] | None:
        with client(stack, "sla") as c:
            r = c.get(f"/v1/dossiers/{code}/clock")
        body: dict[str, Any] = r.json()
        return body if r.status_code == 200 and body["steps"] else None

    clock = wait_until(clock_started, 30, "the sla clocks")
    assert clock["state"] == "running"
    assert clock["steps"][0]["step_id"] == route["steps"][0]["step_id"]


def test_a_consumer_killed_between_its_commit_and_its_offset_commit_takes_effect_once(
    stack: DevStack,
) -> None:
    stack.kill("routing", signal.SIGTERM)
    stack.start_service("routing", {"LIENTHONG_FAILPOINTS": "consumer.after_db_commit=kill"})
    code = post_dossier(stack)
    assert stack.wait_exit("routing", 60) == -signal.SIGKILL
    assert db_scalar(stack, "routing", "SELECT count(*) FROM route WHERE dossier_code = :c", c=code) == 1

    stack.start_service("routing")  # the broker redelivers the event whose offset was never committed
    later = post_dossier(stack)

    def later_routed() -> bool:
        return bool(db_scalar(stack, "routing", "SELECT count(*) FROM route WHERE dossier_code = :c", c=later) == 1)

    wait_until(later_routed, 60, "the restarted routing to catch up")
    assert db_scalar(stack, "routing", "SELECT count(*) FROM route WHERE dossier_code = :c", c=code) == 1
    assert db_scalar(stack, "routing", "SELECT count(*) FROM outbox WHERE key = :c", c=code) == 2
    assert db_scalar(stack, "routing", "SELECT count(*) FROM inbox WHERE consumer = 'routing'") == 2
    processed = db_scalar(stack, "routing", "SELECT count(*) FROM inbox i WHERE i.event_type = 'dossier.accepted'")
    assert processed == 2


def read_events(stack: DevStack, topic: str, codes: set[str], per_code: int, timeout: float = 60) -> list[Envelope]:
    """Every event of ``codes`` on a topic, read from the beginning without a consumer group."""

    async def read() -> list[Envelope]:
        consumer = AIOKafkaConsumer(
            f"{stack.config.kafka_namespace}{topic}",
            bootstrap_servers=stack.config.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
        )
        await consumer.start()
        found: list[Envelope] = []
        try:
            deadline = asyncio.get_running_loop().time() + timeout
            while len(found) < len(codes) * per_code and asyncio.get_running_loop().time() < deadline:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    found.extend(e for r in records if (e := Envelope.from_bytes(r.value)).dossier_code in codes)
            # Anything more (a duplicate) would arrive right behind: read a little longer.
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                found.extend(e for r in records if (e := Envelope.from_bytes(r.value)).dossier_code in codes)
        finally:
            await consumer.stop()
        return found

    return asyncio.run(read())


def test_with_the_broker_down_every_post_succeeds_and_every_event_arrives_once_in_order(
    stack: DevStack, broker: Broker
) -> None:
    warmup = post_dossier(stack)
    wait_until(lambda: len(notifications(stack, warmup)) == 2, 30, "the warm-up dossier")

    broker.stop()
    try:
        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda _: post_dossier(stack), range(200)))
        assert len(set(codes)) == 200
        assert db_scalar(stack, "intake", "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 200
        # Still in its load balancer: the outbox holds the events, so intake answers "degraded", not 503.
        ready = httpx.get(f"{stack.config.url('intake')}/readyz", timeout=30)
        assert (ready.status_code, ready.json()) == (
            200,
            {"status": "degraded", "database": "ok", "broker": "unreachable"},
        )
    finally:
        broker.start()

    def all_notified() -> bool:
        sent = db_scalar(
            stack,
            "notify",
            "SELECT count(*) FROM notification WHERE audience = 'citizen' AND status IN ('sent', 'delivered')",
        )
        return bool(sent == 2 * 201)

    wait_until(all_notified, 240, "400 notifications for the 200 dossiers", every=1)
    wanted = set(codes)
    # At-least-once on the wire (a relay may resend a batch whose acknowledgement it never saw), exactly
    # once in effect: compare first arrivals, then check that no effect happened twice.
    accepted = first_arrivals(read_events(stack, "intake.dossier.v1", wanted, per_code=1))
    assert sorted(e.dossier_code for e in accepted) == sorted(codes), "an event was lost"
    routed = first_arrivals(read_events(stack, "routing.step.v1", wanted, per_code=2))
    per_dossier: dict[str, list[str]] = defaultdict(list)
    for event in routed:
        per_dossier[event.dossier_code].append(event.type)
    assert len(per_dossier) == 200
    assert all(types == ["route.planned", "step.assigned"] for types in per_dossier.values())
    assert len(sandbox(stack, "/sms/messages")) == 201, "a citizen got a second SMS"
    assert db_scalar(stack, "routing", "SELECT count(*) FROM route") == 201
    assert db_scalar(stack, "routing", "SELECT count(*) FROM handover") == 201
    assert db_scalar(stack, "sla", "SELECT count(*) FROM dossier_clock") == 201
    assert db_scalar(stack, "notify", "SELECT count(*) FROM notification WHERE audience = 'citizen'") == 402


def first_arrivals(events: list[Envelope]) -> list[Envelope]:
    seen: set[str] = set()
    firsts = []
    for event in events:
        if str(event.event_id) not in seen:
            seen.add(str(event.event_id))
            firsts.append(event)
    return firsts
