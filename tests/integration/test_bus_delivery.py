"""The bus on a real broker and database: order, duplicates, retries, and a broker that goes away."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict

import pytest

from shared.bus.consumer import RetryPolicy
from shared.bus.handlers import PermanentError
from shared.bus.kafka import Producer
from shared.bus.relay import OutboxRelay
from shared.bus.unit_of_work import UnitOfWork
from shared.db import is_sqlite
from shared.events.envelope import Envelope
from tests.support.bus import TEST_TOPIC, BusHarness, Sequenced, eventually, record_effect, sequenced
from tests.support.infra import Broker

pytestmark = pytest.mark.integration


def by_dossier(effects: list[tuple[str, int, str]]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    for code, seq, _ in effects:
        out[code].append(seq)
    return out


async def test_concurrent_events_for_100_dossiers_keep_per_dossier_order(bus: BusHarness) -> None:
    bus.start_relay()
    bus.start_consumer()

    async def dossier_life(n: int) -> None:
        for seq in range(1, 6):
            await bus.stage(sequenced(f"H56.14-261122-{n:04d}", seq))

    await asyncio.gather(*(dossier_life(n) for n in range(100)))

    async def all_done() -> bool:
        return len(await bus.effects()) >= 500

    await eventually(all_done, 60, "500 effects")
    effects = await bus.effects()
    assert len(effects) == 500
    assert len({e[2] for e in effects}) == 500, "an event had two effects"
    assert all(seqs == [1, 2, 3, 4, 5] for seqs in by_dossier(effects).values())
    assert len(by_dossier(effects)) == 100


async def test_the_same_event_delivered_twice_has_one_effect(bus: BusHarness) -> None:
    bus.start_relay()
    bus.start_consumer()
    event = sequenced("H56.14-261122-0001", 1)
    await bus.stage(event)
    await bus.publish_raw(event.dossier_code.encode(), event.to_bytes())  # the broker redelivers it
    sentinel = sequenced("H56.14-261122-0001", 2)
    await bus.publish_raw(sentinel.dossier_code.encode(), sentinel.to_bytes())

    async def sentinel_seen() -> bool:
        return any(e[2] == str(sentinel.event_id) for e in await bus.effects())

    await eventually(sentinel_seen, 30, "the sentinel behind the duplicate")
    effects = await bus.effects()
    assert [e[2] for e in effects].count(str(event.event_id)) == 1
    assert await bus.scalar("SELECT count(*) FROM inbox WHERE event_id = :e", e=str(event.event_id)) == 1


async def test_transient_errors_are_retried_and_take_effect_once(bus: BusHarness) -> None:
    failures = {"left": 2}

    async def flaky(uow: UnitOfWork, event: Envelope, payload: Sequenced) -> None:
        await record_effect(uow, event, payload)  # rolled back with the failing attempt
        if failures["left"] > 0:
            failures["left"] -= 1
            raise RuntimeError("deadlock detected (simulated)")

    bus.handlers.register("test.flaky", Sequenced, flaky)
    bus.start_relay()
    bus.start_consumer(policy=RetryPolicy(max_attempts=5, initial_backoff=0.01, max_backoff=0.02))
    event = sequenced("H56.14-261122-0002", 1).model_copy(update={"type": "test.flaky"})
    await bus.publish_raw(event.dossier_code.encode(), event.to_bytes())

    async def done() -> bool:
        return len(await bus.effects()) == 1

    await eventually(done, 30, "the flaky handler's effect")
    assert failures["left"] == 0
    assert await bus.scalar("SELECT count(*) FROM dead_letter") == 0


async def test_a_handler_that_keeps_failing_is_dead_lettered_after_bounded_retries(bus: BusHarness) -> None:
    calls = {"n": 0}

    async def broken(uow: UnitOfWork, event: Envelope, payload: Sequenced) -> None:
        calls["n"] += 1
        raise ValueError("bug in handler")

    async def refused(uow: UnitOfWork, event: Envelope, payload: Sequenced) -> None:
        raise PermanentError("dossier unknown to this service")

    bus.handlers.register("test.broken", Sequenced, broken)
    bus.handlers.register("test.refused", Sequenced, refused)
    bus.start_relay()
    bus.start_consumer(policy=RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.02))
    key = b"H56.14-261122-0003"
    await bus.publish_raw(key, sequenced(key.decode(), 1).model_copy(update={"type": "test.broken"}).to_bytes())
    await bus.publish_raw(key, sequenced(key.decode(), 2).model_copy(update={"type": "test.refused"}).to_bytes())
    await bus.publish_raw(key, sequenced(key.decode(), 3).to_bytes())

    async def behind_processed() -> bool:
        return [e[1] for e in await bus.effects()] == [3]

    await eventually(behind_processed, 30, "the message behind the failing ones")
    assert calls["n"] == 3
    assert await bus.scalar("SELECT attempts FROM dead_letter WHERE event_type = 'test.broken'") == 3
    assert await bus.scalar("SELECT attempts FROM dead_letter WHERE event_type = 'test.refused'") == 1
    assert await bus.scalar("SELECT error_class FROM dead_letter WHERE event_type = 'test.refused'") == (
        "PermanentError"
    )


async def test_broker_down_delays_events_and_loses_none(bus: BusHarness, broker: Broker) -> None:
    bus.start_relay()
    bus.start_consumer()
    first = sequenced("H56.14-261122-0100", 0)
    await bus.stage(first)

    async def first_done() -> bool:
        return len(await bus.effects()) == 1

    await eventually(first_done, 30, "the first event before the outage")

    broker.stop()
    try:
        keys = [f"H56.14-261122-{n:04d}" for n in range(200, 240)]
        for seq in range(1, 6):
            for key in keys:
                await bus.stage(sequenced(key, seq))
        assert await bus.scalar("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 200
    finally:
        broker.start()

    async def all_done() -> bool:
        return len(await bus.effects()) == 201

    await eventually(all_done, 120, "every event staged during the outage")
    effects = await bus.effects()
    assert len({e[2] for e in effects}) == 201, "an event took effect twice"
    orders = by_dossier(effects)
    assert all(orders[key] == [1, 2, 3, 4, 5] for key in keys)
    assert await bus.scalar("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0


async def test_outbox_row_and_state_change_commit_or_roll_back_together(bus: BusHarness) -> None:
    event = sequenced("H56.14-261122-0004", 1)

    class Refused(Exception):
        pass

    with pytest.raises(Refused):
        async with bus.units() as uow:
            await record_effect(uow, event, Sequenced(seq=1))
            from shared.bus.outbox import stage_raw

            stage_raw(
                uow.session,
                topic=TEST_TOPIC,
                key=event.dossier_code,
                value=event.to_bytes(),
                event_type=event.type,
                headers={},
            )
            raise Refused
    assert await bus.scalar("SELECT count(*) FROM outbox") == 0
    assert await bus.scalar("SELECT count(*) FROM effect") == 0
    assert uuid.UUID(str(event.event_id))


async def test_two_relays_on_postgresql_share_the_outbox_without_reordering_or_duplicating(bus: BusHarness) -> None:
    if is_sqlite(bus.engine):
        pytest.skip("SQLite runs exactly one relay per database; several relays are a PostgreSQL feature")
    second = OutboxRelay(
        service="bustest",
        sessions=bus.sessions,
        producer=Producer(bus.kafka, topics=[TEST_TOPIC]),
        use_slot_locks=True,
        batch_size=7,
        poll_interval=0.05,
    )
    bus.relay._batch_size = 7  # small batches make the two relays interleave
    keys = [f"H56.14-261122-{n:04d}" for n in range(500, 550)]
    for seq in range(1, 5):
        for key in keys:
            await bus.stage(sequenced(key, seq))
    bus.start_relay()
    second_task = asyncio.create_task(second.run())
    try:
        records = await bus.read_topic(TEST_TOPIC, expected=200, timeout=60)
    finally:
        second.stop()
        await asyncio.wait_for(second_task, 10)
    events = [Envelope.from_bytes(r.value) for r in records]
    assert len(events) == 200 and len({e.event_id for e in events}) == 200
    seqs: dict[str, list[int]] = defaultdict(list)
    for e in events:
        seqs[e.dossier_code].append(int(e.payload["seq"]))
    assert all(seqs[key] == [1, 2, 3, 4] for key in keys)


async def test_on_sqlite_a_second_relay_waits_for_the_lease(bus: BusHarness) -> None:
    if not is_sqlite(bus.engine):
        pytest.skip("PostgreSQL relays share the outbox by slot locks instead")
    second = OutboxRelay(
        service="bustest",
        sessions=bus.sessions,
        producer=Producer(bus.kafka, topics=[TEST_TOPIC]),
        use_slot_locks=False,
    )
    await bus.stage(sequenced("H56.14-261122-0600", 1))
    assert await bus.relay.publish_once() == 1
    await bus.stage(sequenced("H56.14-261122-0600", 2))
    assert await second.publish_once() == 0, "two relays published from one SQLite database"
    await bus.relay.release_lease()  # a clean shutdown hands the lease over at once
    assert await second.publish_once() == 1
    await second.release_lease()
    await second._producer.stop()
