"""A poll's messages are applied in runs, one transaction each, with the guarantees of one at a time: every
effect once, each dossier's order kept, a failing message retried on its own with the messages behind it
waiting, and duplicates inside a run skipped."""

from __future__ import annotations

import uuid
from collections import defaultdict

import pytest

from shared.bus import metrics
from shared.bus.consumer import RetryPolicy
from shared.bus.unit_of_work import UnitOfWork
from shared.events.envelope import Envelope
from tests.support.bus import (
    TEST_TOPIC,
    BusHarness,
    Sequenced,
    eventually,
    record_effect,
    sample_sum,
    sequenced,
)

pytestmark = pytest.mark.integration


def runs_of(consumer: str) -> tuple[float, float]:
    """How many transactions applied runs, and how many messages they held."""
    run_size = metrics.CONSUMER_RUN_SIZE
    return sample_sum(run_size, "_count", consumer=consumer), sample_sum(run_size, "_sum", consumer=consumer)


async def test_a_failing_message_in_a_run_is_retried_alone_and_the_rest_keep_order(bus: BusHarness) -> None:
    flaky_id = uuid.uuid4()
    failures = {"left": 2}
    after_commit: list[uuid.UUID] = []

    async def flaky_once_or_twice(uow: UnitOfWork, event: Envelope, payload: Sequenced) -> None:
        await record_effect(uow, event, payload)  # rolled back with its savepoint when it raises
        uow.after_commit(lambda: after_commit.append(event.event_id))
        if event.event_id == flaky_id and failures["left"] > 0:
            failures["left"] -= 1
            raise RuntimeError("serialization failure (simulated)")

    bus.handlers.register("test.flaky", Sequenced, flaky_once_or_twice)
    before = runs_of("runs")
    events: list[Envelope] = []
    for seq in range(1, 41):
        for dossier in ("H56.14-261203-0101", "H56.14-261203-0102"):
            event = sequenced(dossier, seq).model_copy(update={"type": "test.flaky"})
            if dossier.endswith("0101") and seq == 20:
                event = event.model_copy(update={"event_id": flaky_id})
            events.append(event)
    duplicate = events[10]
    producer = await bus.raw_producer()
    try:  # all on the topic before the consumer starts, so that its first polls hold long runs
        for event in [*events[:12], duplicate, *events[12:]]:
            await producer.send_and_wait(
                bus.kafka.physical(TEST_TOPIC), key=event.dossier_code.encode(), value=event.to_bytes()
            )
    finally:
        await producer.stop()
    bus.start_consumer(name="runs", policy=RetryPolicy(max_attempts=5, initial_backoff=0.01, max_backoff=0.02))

    async def all_applied() -> bool:
        return len(await bus.effects()) == 80

    await eventually(all_applied, 60, "80 effects")
    effects = await bus.effects()
    assert len({e[2] for e in effects}) == 80, "an event had two effects"
    order: dict[str, list[int]] = defaultdict(list)
    for code, seq, _ in effects:
        order[code].append(seq)
    assert order == {"H56.14-261203-0101": list(range(1, 41)), "H56.14-261203-0102": list(range(1, 41))}
    assert failures["left"] == 0
    assert sorted(after_commit) == sorted(e.event_id for e in events), "an after-commit call per applied event"
    assert await bus.scalar("SELECT count(*) FROM inbox WHERE consumer = 'runs'") == 80
    assert await bus.scalar("SELECT count(*) FROM dead_letter") == 0
    transactions, messages = (now - then for now, then in zip(runs_of("runs"), before, strict=True))
    assert transactions > 0 and messages > transactions, "no run held more than one message"
