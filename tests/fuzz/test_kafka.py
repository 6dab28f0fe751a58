"""Hostile messages into every topic a service consumes: each one is dead-lettered with a reason (or, for an
event type the consumer knows but does not handle, ignored), a good dossier published after the garbage still
goes all the way through, every consumer's lag drops to zero, and every service stays alive and ready."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError

from services.devstack import DevStack
from shared.events.envelope import Envelope
from shared.events.registry import EVENT_TYPES, is_known
from shared.events.topics import TOPICS, consumed_by
from tests.e2e.test_walking_skeleton import notifications, post_dossier
from tests.fuzz.conftest import REPORT
from tests.support.stacks import db_rows
from tests.support.waiting import wait_until

pytestmark = pytest.mark.fuzz

CONSUMERS = {service: consumed_by(service) for service in ("intake", "routing", "sla", "notify")}
HUGE = 3 * 1024 * 1024
"""Several MB: over the 1 MB default of Kafka's message.max.bytes; sent only if the broker takes it."""


@dataclass
class Hostile:
    name: str
    value: bytes | None
    key: bytes | None
    headers: list[tuple[str, bytes]]
    reason: str
    """The start of the dead-letter reason; empty when any reason will do."""


def envelope(topic: str, **overrides: Any) -> dict[str, Any]:
    producer = TOPICS[topic].producer
    event_type = next(t for t, spec in EVENT_TYPES.items() if spec.topic.name == topic)
    now = datetime.now(UTC).isoformat()
    return {
        "event_id": str(uuid.uuid4()),
        "type": event_type,
        "version": 1,
        "occurred_at": now,
        "recorded_at": now,
        "dossier_code": "H56.101-000101-9999",
        "producer": producer,
        "payload": {},
        **overrides,
    }


def js(value: Any) -> bytes:
    return json.dumps(value).encode()


def hostile_messages(topic: str) -> list[Hostile]:
    key = b"H56.101-000101-9999"
    good = envelope(topic)
    tp = [("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")]
    not_envelope = "not an event envelope"
    return [
        Hostile("no value (tombstone)", None, key, tp, "empty message"),
        Hostile("empty value", b"", key, tp, not_envelope),
        Hostile("invalid UTF-8", b"\xff\xfe\xfd\x80garbage", key, tp, not_envelope),
        Hostile("invalid UTF-8 inside a JSON string", b'{"event_id": "\xff\xfe"}', key, tp, not_envelope),
        Hostile("truncated JSON", js(good)[: len(js(good)) // 2], key, tp, not_envelope),
        Hostile("a JSON list", b"[1, 2, 3]", key, tp, not_envelope),
        Hostile("a JSON string", b'"dossier.accepted"', key, tp, not_envelope),
        Hostile("a JSON number", b"42", key, tp, not_envelope),
        Hostile("JSON null", b"null", key, tp, not_envelope),
        Hostile("deeply nested JSON", b"[" * 100_000 + b"]" * 100_000, key, tp, not_envelope),
        Hostile("envelope with wrong types", js({**good, "event_id": 7, "version": "one"}), key, tp, not_envelope),
        Hostile(
            "envelope with a naive time", js({**good, "occurred_at": "2026-01-05T08:00:00"}), key, tp, not_envelope
        ),
        Hostile("envelope with an extra field", js({**good, "extra": True}), key, tp, not_envelope),
        Hostile(
            "envelope without payload", js({k: v for k, v in good.items() if k != "payload"}), key, tp, not_envelope
        ),
        Hostile("payload of the wrong type", js({**good, "payload": [1, 2]}), key, tp, not_envelope),
        Hostile("NUL characters", js({**good, "dossier_code": "\u0000" * 10, "payload": {"x": "\u0000"}}), key, tp, ""),
        Hostile(
            "unknown type from the right producer",
            js({**good, "type": f"{good['type'].split('.')[0]}.teleported"}),
            key,
            tp,
            "unknown event type",
        ),
        Hostile(
            "valid envelope, garbage payload", js({**good, "payload": {"nonsense": [1, {"a": None}]}}), key, tp, ""
        ),
        Hostile("garbage, no key", b"{garbage", None, tp, not_envelope),
        Hostile("garbage, a 300-character key", b"{garbage", b"K" * 300, tp, not_envelope),
        Hostile("garbage, key not UTF-8", b"{garbage", b"\xff\xfe", tp, not_envelope),
        Hostile("garbage, no headers", b"{garbage", key, [], not_envelope),
        Hostile("garbage traceparent", js({**good, "type": "x.y"}), key, [("traceparent", b"zz-not-a-trace")], ""),
        Hostile("traceparent not UTF-8", js({**good, "type": "x.y"}), key, [("traceparent", b"\xff\xfe\x00")], ""),
        Hostile("a known event without a key", js(good), None, tp, "no key"),
        Hostile("a known event keyed by another dossier", js(good), b"H56.101-000101-0002", tp, "key "),
        Hostile(
            "key and dossier_code disagree, bad payload",
            js({**good, "dossier_code": "H56.101-000101-0001"}),
            b"H56.999-991231-0002",
            tp,
            "",
        ),
    ]


def huge_messages(topic: str) -> list[Hostile]:
    key = b"H56.101-000101-9997"
    good = envelope(topic, dossier_code=key.decode())
    tp: list[tuple[str, bytes]] = []
    not_envelope = "not an event envelope"
    return [
        Hostile(f"{HUGE // 1024 // 1024} MB of garbage", b"{" + b" " * HUGE, key, tp, not_envelope),
        Hostile(
            f"{HUGE // 1024 // 1024} MB envelope, wrong payload",
            js({**good, "payload": {"blob": "x" * HUGE}}),
            key,
            tp,
            "",
        ),
    ]


def known_types_with_empty_payloads(topic: str) -> list[Hostile]:
    """Every type of the topic's producer with an empty payload: a consumer that handles the type dead-letters
    it (invalid payload); one that does not handle it ignores it, by design."""
    return [
        Hostile(f"{name} with an empty payload", js(envelope(topic, type=name)), b"H56.101-000101-9999", [], "")
        for name, spec in EVENT_TYPES.items()
        if spec.topic.name == topic
    ]


def well_formed_known(hostile: Hostile) -> bool:
    """An envelope of a registered type keyed by its dossier code: a consumer that does not handle the type
    ignores it (README)."""
    try:
        event = Envelope.from_bytes(hostile.value) if hostile.value is not None else None
    except ValueError:
        return False
    return event is not None and is_known(event.type) and hostile.key == event.dossier_code.encode()


@dataclass
class Sent:
    topic: str
    hostile: Hostile
    partition: int
    offset: int


async def publish(stack: DevStack, messages: dict[str, list[Hostile]]) -> tuple[list[Sent], list[str]]:
    producer = AIOKafkaProducer(bootstrap_servers=stack.config.bootstrap, max_request_size=HUGE * 2)
    await producer.start()
    sent: list[Sent] = []
    refused: list[str] = []
    try:
        for topic, hostiles in messages.items():
            physical = f"{stack.config.kafka_namespace}{topic}"
            partitions = sorted(await producer.partitions_for(physical))
            for i, h in enumerate(hostiles):
                # Spread over every partition, so no partition is left without garbage in front of good events.
                partition = partitions[i % len(partitions)]
                try:
                    meta = await producer.send_and_wait(
                        physical, value=h.value, key=h.key, headers=h.headers, partition=partition
                    )
                except MessageSizeTooLargeError as exc:
                    refused.append(f"{topic}: {h.name}: the broker refused it ({exc.__class__.__name__})")
                    continue
                sent.append(Sent(topic, h, meta.partition, meta.offset))
    finally:
        await producer.stop()
    return sent, refused


def passed_over(stack: DevStack, service: str) -> float:
    """Messages a consumer took without dead-lettering: ignored (a type it does not handle), or handled (a
    well-formed event whose empty payload is valid for its type, about a dossier the consumer never saw)."""
    return sum(
        metric(stack, service, "lienthong_events_processed_total", result=r)
        for r in ("ignored", "handled", "duplicate")
    )


REACHED_THE_OPERATOR = {"sent", "delivered"}


def citizen_told(stack: DevStack, code: str) -> bool:
    """The citizen's email and SMS reached their operators. Delivered counts too: the sandbox operator's receipt
    moves the SMS from sent to delivered about 0.2 s after sending, so "both sent" holds only for a moment that a
    poll can miss (it did, and the test then waited for ever for a state that had passed)."""
    reached = {n["channel"] for n in notifications(stack, code) if n["status"] in REACHED_THE_OPERATOR}
    return {"email", "sms"} <= reached


def metric(stack: DevStack, service: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in httpx.get(f"{stack.config.url(service)}/metrics", timeout=10).text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def lag(stack: DevStack, service: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in httpx.get(f"{stack.config.url(service)}/metrics", timeout=10).text.splitlines():
        if line.startswith("lienthong_consumer_lag{"):
            out[line.rsplit(" ", 1)[0]] = float(line.rsplit(" ", 1)[1])
    return out


@pytest.mark.timeout(900)
def test_every_hostile_message_is_dead_lettered_and_nothing_is_stuck(fuzz_stack: DevStack) -> None:
    topics = sorted({t for ts in CONSUMERS.values() for t in ts})
    check_hostile(fuzz_stack, {t: hostile_messages(t) + known_types_with_empty_payloads(t) for t in topics})


@pytest.mark.timeout(900)
def test_messages_of_several_megabytes_are_dead_lettered_and_nothing_is_stuck(fuzz_stack: DevStack) -> None:
    topics = sorted({t for ts in CONSUMERS.values() for t in ts})
    check_hostile(fuzz_stack, {t: huge_messages(t) for t in topics})


def check_hostile(stack: DevStack, messages: dict[str, list[Hostile]]) -> None:
    ignored_before = {s: passed_over(stack, s) for s in CONSUMERS}

    sent, refused = asyncio.run(publish(stack, messages))

    for service, consumed in CONSUMERS.items():
        expected = [s for s in sent if s.topic in consumed]

        def settled(service: str = service, expected: list[Sent] = expected) -> list[tuple[Any, ...]] | None:
            rows = db_rows(stack, service, 'SELECT topic, partition, "offset", error, key FROM dead_letter')
            ignored = passed_over(stack, service)
            done = len({(r[0], r[1], r[2]) for r in rows} & {(s.topic, s.partition, s.offset) for s in expected})
            return rows if done + ignored - ignored_before[service] >= len(expected) else None

        rows = wait_until(settled, 180, f"{service} to dead-letter or ignore {len(expected)} hostile messages", every=1)
        letters = {(r[0], r[1], r[2]): r for r in rows}
        ignored = passed_over(stack, service) - ignored_before[service]
        dead = 0
        for s in expected:
            letter = letters.get((s.topic, s.partition, s.offset))
            if letter is None:
                # Only a well-formed event of a type the consumer knows but does not handle may be passed over.
                assert well_formed_known(s.hostile), f"{service} lost {s.topic}: {s.hostile.name}"
                continue
            dead += 1
            assert letter[3], f"{service}: no reason for {s.hostile.name}"
            reason = s.hostile.reason or ("invalid " if well_formed_known(s.hostile) else "")
            assert letter[3].startswith(reason), f"{service}: {s.hostile.name}: {letter[3]!r}"
        taken = len(expected) - dead
        assert ignored == taken, f"{service}: {taken} not dead-lettered but {ignored} counted as ignored or handled"
        reasons = Counter(
            str(letters[(s.topic, s.partition, s.offset)][3]).split(":")[0]
            for s in expected
            if (s.topic, s.partition, s.offset) in letters
        )
        REPORT.append(
            f"kafka {service:<7} {len(expected)} hostile messages on {', '.join(consumed)}: {dead} dead-lettered "
            f"with a reason, {taken} well-formed events of known types ignored or handled; reasons: {dict(reasons)}"
        )

    code = post_dossier(stack)  # after the garbage: it must still go all the way through
    # The good dossier went through every consumer: routing planned it, sla runs its clock, notify told the citizen.
    wait_until(lambda: citizen_told(stack, code), 120, "notify to send the citizen's email and SMS")
    auth = {"Authorization": f"Bearer {stack.admin_key}"}
    wait_until(
        lambda: httpx.get(f"{stack.config.url('routing')}/v1/dossiers/{code}/route", headers=auth).status_code == 200,
        60,
        "routing",
    )
    wait_until(
        lambda: httpx.get(f"{stack.config.url('sla')}/v1/dossiers/{code}/clock", headers=auth).status_code == 200,
        60,
        "sla",
    )

    def caught_up() -> bool:
        return all(v == 0 for s in CONSUMERS for v in lag(stack, s).values())

    wait_until(caught_up, 120, "every consumer's lag on every partition to reach 0", every=1)
    for service in CONSUMERS:
        process = stack.procs[service]
        assert process.poll() is None, f"{service} exited with {process.returncode}"
        ready = httpx.get(f"{stack.config.url(service)}/readyz", timeout=10)
        assert ready.status_code == 200 and ready.json()["status"] == "ready", f"{service}: {ready.text}"

        def drained(service: str = service) -> bool:
            return metric(stack, service, "lienthong_outbox_backlog") == 0

        wait_until(drained, 60, f"{service}'s outbox to drain (dead letters included)")
    per_topic = Counter(s.topic for s in sent)
    REPORT.append(
        f"kafka published {len(sent)} hostile messages: {dict(per_topic)}; refused by the broker: {refused or 'none'}"
    )
    REPORT.append(f"kafka a good dossier ({code}) published after the garbage was routed, clocked and notified; lag 0")
