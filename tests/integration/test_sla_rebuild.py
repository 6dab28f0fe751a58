"""sla's rebuild on a real broker and database: a few hundred generated dossiers' events go onto the
topics; sla's normal consumer processes them into one database, the rebuild into another, and the tables
agree; afterwards the normal consumer on the rebuilt database takes a new event once and skips the history
(its offsets start after it, and a redelivered old event is already in the inbox)."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.sla.context import Sla
from services.sla.handlers import build_handlers
from services.sla.main import MIGRATIONS
from services.sla.rebuild import CONSUMER, TOPICS, Rebuilder
from services.sla.rebuild_store import BulkStore
from services.sla.settings import SlaSettings
from shared.bus.consumer import ConsumerRunner
from shared.bus.kafka import KafkaSettings, ensure_topics
from shared.bus.unit_of_work import UnitOfWorkFactory
from shared.db import create_engine, migrate, session_maker
from shared.events import new_envelope
from shared.events.clock import ApologyRequired, AppointmentChange, AppointmentChanged
from shared.events.step import StepAccepted
from shared.events.topics import SLA_CLOCK
from tests.support.bus import eventually
from tests.support.infra import Broker, fresh_database_url
from tests.support.sla_generated import FUTURE, Event, envelopes, histories

pytestmark = pytest.mark.integration
DOSSIERS = 200

CLOCK = "SELECT * FROM dossier_clock ORDER BY dossier_code"
STEPS = "SELECT * FROM step_clock ORDER BY ref"
TIMERS = "SELECT dossier_code, key, kind, due_at, fired_at, payload FROM sla_timer ORDER BY dossier_code, key"
FACTS = "SELECT dossier_code, event_id, type, occurred_at, payload FROM sla_fact ORDER BY event_id"
INBOX = "SELECT consumer, event_id, event_type FROM inbox ORDER BY event_id"


@pytest.fixture(scope="module")
def sla() -> Sla:
    return Sla.load(SlaSettings.load())


async def database(url: str) -> AsyncEngine:
    engine = create_engine(url, "sla")
    await migrate(engine, "sla", MIGRATIONS)
    return engine


@pytest.fixture
async def engines(tmp_path: Path) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    """Two fresh sla databases (SQLite files, or PostgreSQL databases): the consumer's and the rebuild's."""
    consumed = await database(fresh_database_url(tmp_path / "consumed").format(service="sla"))
    rebuilt = await database(fresh_database_url(tmp_path / "rebuilt").format(service="sla"))
    yield consumed, rebuilt
    await consumed.dispose()
    await rebuilt.dispose()


def kafka(broker: Broker, namespace: str) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=broker.bootstrap, client_id="lienthong-sla-test", namespace=namespace)


async def publish(settings: KafkaSettings, events: list[Event]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, linger_ms=5, acks="all")
    await producer.start()
    try:
        sent = [await producer.send(settings.physical(e.topic), e.value, key=e.key) for e in events]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def misaddressed(event: Event, key: bytes | None) -> Event:
    """The event under a new id, with ``key`` instead of its dossier code."""
    value = json.loads(event.value)
    value["event_id"] = str(uuid.uuid4())
    return Event(event.topic, key, json.dumps(value, ensure_ascii=False).encode(), event.type)


async def rows(engine: AsyncEngine, sql: str) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        return [dict(r._mapping) for r in (await conn.execute(text(sql))).all()]


def without(found: list[dict[str, Any]], *columns: str) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in columns} for r in found]


def processed(result: str) -> float:
    total = 0.0
    for topic in TOPICS:
        value = REGISTRY.get_sample_value(
            "lienthong_events_processed_total", {"consumer": CONSUMER, "topic": topic, "result": result}
        )
        total += value or 0.0
    return total


async def consume(
    engine: AsyncEngine, settings: KafkaSettings, sla: Sla, until: int, duplicates: float | None = None
) -> None:
    """sla's normal consumer on ``engine`` until the inbox holds ``until`` rows (and, with ``duplicates``,
    the consumer has counted more duplicates than that)."""
    runner = ConsumerRunner(
        name=CONSUMER,
        topics=list(TOPICS),
        handlers=build_handlers(sla),
        units=UnitOfWorkFactory(session_maker(engine)),
        kafka=settings,
    )
    task = asyncio.create_task(runner.run())

    async def done() -> bool:
        seen = duplicates is None or processed("duplicate") > duplicates
        return seen and len(await rows(engine, INBOX)) >= until

    try:
        await eventually(done, 180, f"{until} inbox rows")
    finally:
        runner.stop()
        await task


@pytest.mark.parametrize("workers", [1, 2])
async def test_a_rebuild_gives_the_normal_consumers_tables_and_the_consumer_resumes_after_it(
    broker: Broker, namespace: str, engines: tuple[AsyncEngine, AsyncEngine], sla: Sla, workers: int
) -> None:
    """With ``workers`` 2, two processes read and replay the partitions side by side."""
    consumed, rebuilt = engines
    settings = kafka(broker, namespace)
    rng = random.Random(11)
    generated = list(histories(DOSSIERS, 20_270_301, sla.calendar, FUTURE, 15))
    events = [e for h in generated for e in envelopes(h, rng, datetime.now(UTC))]
    # Valid events under ids of their own, one without a key and one keyed by another dossier: sla's consumer
    # dead-letters both (they may be out of order), and the rebuild leaves them out as well.
    hostile = [misaddressed(events[3], None), misaddressed(events[7], b"H56.999-270301-9999")]
    await ensure_topics(settings, list(TOPICS))
    await publish(settings, events + hostile)

    await consume(consumed, settings, sla, len(events))  # it leaves sla's group at the end: the rebuild
    # reads from the first offsets whatever the group's, and sets the group's offsets again
    async with BulkStore(rebuilt, CONSUMER) as store:
        stats = await Rebuilder(store, settings, sla, workers=workers).run()
    print(f"rebuild: {stats.as_dict()}")
    assert (stats.events, stats.facts, stats.poison, stats.duplicates) == (len(events) + 2, len(events), 2, 0)
    assert stats.dossiers == DOSSIERS and stats.clocks == DOSSIERS

    # The same facts and inbox rows (their ids and the instants they were recorded at aside) ...
    assert await rows(rebuilt, FACTS) == await rows(consumed, FACTS)
    assert await rows(rebuilt, INBOX) == await rows(consumed, INBOX)
    # ... the same clocks (the row version counts the consumer's updates) and step clocks ...
    clocks = await rows(rebuilt, CLOCK)
    assert len(clocks) == DOSSIERS
    assert without(clocks, "version") == without(await rows(consumed, CLOCK), "version")
    assert {c["state"] for c in clocks} >= {"resolved", "running"}
    assert {c["outcome"] for c in clocks} >= {"early", "late"}
    assert any(c["responsible_party"] for c in clocks)
    steps = await rows(rebuilt, STEPS)
    assert any(s["interconnection_minutes"] for s in steps) and any(s["result"] == "late" for s in steps)
    assert steps == await rows(consumed, STEPS)
    # ... and the same pending timers, but for the ones the consumer kept from an earlier state of a
    # dossier because they fell due before a later fact (``since`` in projection.refresh): the live sweep
    # fired those when they fell due; which ones are left depends on how the two topics interleaved.
    wanted = await rows(rebuilt, TIMERS)
    assert wanted, "open dossiers have timers"
    theirs = await rows(consumed, TIMERS)
    keys = {(t["dossier_code"], t["key"]) for t in wanted}
    assert [t for t in theirs if (t["dossier_code"], t["key"]) in keys] == wanted
    latest: dict[str, datetime] = defaultdict(lambda: datetime.min.replace(tzinfo=UTC))
    for h in generated:
        latest[h.code] = max(f.occurred_at for f in h.facts)
    for t in theirs:
        if (t["dossier_code"], t["key"]) not in keys:
            due = t["due_at"] if isinstance(t["due_at"], datetime) else datetime.fromisoformat(t["due_at"])
            assert due.replace(tzinfo=due.tzinfo or UTC) < latest[t["dossier_code"]], t

    # The normal consumer on the rebuilt database: one new event, and an old one delivered again.
    running = next(c for c in clocks if c["state"] == "running")
    step = next(s for s in await rows(rebuilt, STEPS) if s["dossier_code"] == running["dossier_code"] and s["is_open"])
    fresh = new_envelope(
        type="step.accepted",
        dossier_code=running["dossier_code"],
        producer="routing",
        occurred_at=max(latest[running["dossier_code"]], FUTURE),
        payload=StepAccepted(
            step_id=step["step_id"],
            seq=step["seq"],
            attempt=step["attempt"],
            step_key=step["key"],
            unit_code=step["unit_code"],
            unit_level=step["unit_level"],
            accepted_at=max(latest[running["dossier_code"]], FUTURE),
        ),
    )
    handled, duplicates = processed("handled"), processed("duplicate")
    again = events[len(events) // 2]
    await publish(settings, [again, Event("routing.step.v1", fresh.dossier_code.encode(), fresh.to_bytes(), "x")])
    await consume(rebuilt, settings, sla, len(events) + 1, duplicates)
    assert processed("handled") - handled == 1
    assert processed("duplicate") - duplicates == 1
    facts = await rows(rebuilt, FACTS)
    assert len(facts) == len(events) + 1
    assert sum(1 for f in facts if f["event_id"] == str(fresh.event_id)) == 1


async def test_sla_s_own_decisions_come_back_from_its_topic_without_inbox_rows(
    broker: Broker, namespace: str, database_url: str, sla: Sla
) -> None:
    """An apology and a reset of the appointment are facts sla recorded itself and published on
    sla.clock.v1, which its consumer does not read: a rebuild after the database is lost takes them from
    there (the other clock events on that topic are computed, not decided, and stay out)."""
    settings = kafka(broker, namespace)
    rng = random.Random(5)
    h = next(iter(histories(1, 7, sla.calendar, FUTURE, 1)))
    events = list(envelopes(h, rng, datetime.now(UTC)))
    at = h.facts[2].occurred_at  # while the dossier is in progress
    appointment = h.facts[0].payload.appointment_at  # type: ignore[attr-defined]
    apology = new_envelope(
        type="dossier.apology_required",
        dossier_code=h.code,
        producer="sla",
        occurred_at=at,
        payload=ApologyRequired(
            appointment_at=appointment,
            proposed_appointment_at=appointment,
            responsible_unit_code="H56.10",
            responsible_level="district",
            reason="Quá hạn ở bước thẩm định",
            receiving_unit_code="H56.101",
            reset_allowed=True,
        ),
    )
    resumed = new_envelope(
        type="dossier.appointment_changed",
        dossier_code=h.code,
        producer="sla",
        occurred_at=at,
        payload=AppointmentChanged(
            appointment_at=appointment, previous_appointment_at=appointment, change=AppointmentChange.RESUMED
        ),
    )
    own = [Event(SLA_CLOCK.name, h.code.encode(), e.to_bytes(), e.type) for e in (apology, resumed)]
    await ensure_topics(settings, [*TOPICS, SLA_CLOCK.name])
    await publish(settings, events + own)
    engine = await database(database_url.format(service="sla"))
    try:
        async with BulkStore(engine, CONSUMER) as store:
            stats = await Rebuilder(store, settings, sla).run(commit_offsets=False)
        assert (stats.facts, stats.decisions, stats.ignored) == (len(events) + 1, 1, 1)
        facts = await rows(engine, FACTS)
        assert [f["type"] for f in facts].count("dossier.apology_required") == 1
        assert "dossier.appointment_changed" not in {f["type"] for f in facts}
        assert len(await rows(engine, INBOX)) == len(events)
        (clock,) = await rows(engine, CLOCK)
        assert clock["apologies"] == 1
    finally:
        await engine.dispose()
