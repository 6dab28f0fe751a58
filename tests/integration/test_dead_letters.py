"""Poison messages go to the dead-letter topic with the reason; the partition moves on; replay works."""

from __future__ import annotations

import json

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from shared.bus.deadletters import (
    H_ATTEMPTS,
    H_ERROR_CLASS,
    H_ERROR_MESSAGE,
    H_KEY_TRUNCATED,
    H_ORIGIN_OFFSET,
    H_ORIGIN_PARTITION,
    H_ORIGIN_TOPIC,
    H_VALUE_TRUNCATED,
    PREVIEW_BYTES,
    list_dead_letters,
    replay_dead_letters,
)
from shared.events.topics import dead_letter_topic
from tests.support.bus import TEST_TOPIC, BusHarness, Sequenced, eventually, record_effect, sequenced

pytestmark = pytest.mark.integration

KEY = "H56.14-261122-0042"


async def test_malformed_and_unknown_messages_are_dead_lettered_and_replayed_after_a_fix(
    bus: BusHarness,
) -> None:
    bus.start_relay()
    bus.start_consumer()
    unknown = sequenced(KEY, 2).model_copy(update={"type": "dossier.teleported"})
    bad_payload = sequenced(KEY, 3).model_copy(update={"payload": {"seq": "three"}})
    await bus.publish_raw(KEY.encode(), b"\xff\xfe not json at all")
    await bus.publish_raw(KEY.encode(), unknown.to_bytes())
    await bus.publish_raw(KEY.encode(), bad_payload.to_bytes())
    await bus.publish_raw(KEY.encode(), None)
    await bus.publish_raw(KEY.encode(), sequenced(KEY, 4).to_bytes())

    async def behind_processed() -> bool:
        return [e[1] for e in await bus.effects()] == [4]

    await eventually(behind_processed, 30, "the valid message behind the poison ones")

    letters = await list_dead_letters(bus.sessions, "bustest")
    assert [(d.error_class, d.attempts) for d in letters] == [("PoisonMessage", 1)] * 4
    reasons = [d.error for d in letters]
    assert reasons[0].startswith("not an event envelope")
    assert reasons[1] == "unknown event type 'dossier.teleported'"
    assert reasons[2].startswith("invalid test.sequenced payload: seq")
    assert reasons[3] == "empty message (no value)"
    assert all(d.topic == TEST_TOPIC and d.key == KEY for d in letters)

    published = await bus.read_topic(dead_letter_topic("bustest"), expected=4)
    assert len(published) == 4
    headers = [{k: v.decode() for k, v in r.headers} for r in published]
    assert {h[H_ORIGIN_TOPIC] for h in headers} == {TEST_TOPIC}
    assert sorted(int(h[H_ORIGIN_OFFSET]) for h in headers) == sorted(d.offset for d in letters)
    assert all(h[H_ORIGIN_PARTITION].isdigit() and h[H_ATTEMPTS] == "1" for h in headers)
    assert all(h[H_ERROR_CLASS] == "PoisonMessage" for h in headers)
    assert any("unknown event type" in h[H_ERROR_MESSAGE] for h in headers)
    assert published[0].value == b"\xff\xfe not json at all"

    # The fix: a release that knows the new type. Replay only that dead letter.
    bus.handlers.register("dossier.teleported", Sequenced, record_effect)
    unknown_letter = letters[1]
    assert unknown_letter.id is not None
    assert await replay_dead_letters(bus.sessions, "bustest", [unknown_letter.id]) == [unknown_letter.id]
    bus.relay.wake()

    async def replayed() -> bool:
        return sorted(e[1] for e in await bus.effects()) == [2, 4]

    await eventually(replayed, 30, "the replayed dead letter's effect")
    pending = await list_dead_letters(bus.sessions, "bustest")
    assert [d.id for d in pending] == [letters[0].id, letters[2].id, letters[3].id]
    everything = await list_dead_letters(bus.sessions, "bustest", include_replayed=True)
    assert len(everything) == 4, "the replay failed again and came back as a new dead letter"
    assert json.loads(unknown_letter.headers) == {}


async def test_an_event_without_a_key_or_keyed_by_another_dossier_is_dead_lettered(bus: BusHarness) -> None:
    """The key keeps a dossier's events in order on one partition: an event published without it, or under
    another dossier's code, could be applied out of order, so it is refused with the reason, never applied."""
    bus.start_relay()
    bus.start_consumer()
    other = "H56.14-261122-0043"
    await bus.publish_raw(None, sequenced(KEY, 1).to_bytes(), partition=0)
    await bus.publish_raw(other.encode(), sequenced(KEY, 2).to_bytes(), partition=0)
    await bus.publish_raw(KEY.encode(), sequenced(KEY, 3).to_bytes(), partition=0)
    await eventually(lambda: _effects_are(bus, [3]), 60, "the rightly keyed event behind the two")

    letters = await list_dead_letters(bus.sessions, "bustest")
    assert [(d.key, d.error_class) for d in letters] == [(None, "PoisonMessage"), (other, "PoisonMessage")]
    assert "no key" in letters[0].error
    assert other in letters[1].error and KEY in letters[1].error


async def test_a_dead_letter_too_big_for_the_bus_is_kept_whole_and_published_as_a_preview(bus: BusHarness) -> None:
    """A several-MB message with a 300-character key: the table keeps it whole; the dead-letter topic gets its
    first bytes (the producer refuses a request over 1 MiB, and an unpublishable row would hold the outbox
    forever); the outbox drains; a replay through the bus is refused."""
    huge, long_key = b"{" + b" " * 3_000_000, "K" * 300
    producer = AIOKafkaProducer(bootstrap_servers=bus.kafka.bootstrap_servers, max_request_size=8_000_000)
    await producer.start()
    try:
        await producer.send_and_wait(bus.kafka.physical(TEST_TOPIC), key=long_key.encode(), value=huge, partition=0)
    except KafkaError as exc:  # Apache Kafka's default message.max.bytes is 1 MB: nothing that big gets in
        pytest.skip(f"the broker refuses a 3 MB message: {exc!r}")
    finally:
        await producer.stop()
    bus.start_relay()
    bus.start_consumer()
    # Same partition, so the good message's effect means the huge one before it has been dealt with.
    await bus.publish_raw(KEY.encode(), sequenced(KEY, 1).to_bytes(), partition=0)
    await eventually(lambda: _effects_are(bus, [1]), 60, "the message behind the huge one")

    (letter,) = await list_dead_letters(bus.sessions, "bustest")
    assert letter.value == huge and letter.key == long_key[:200]
    (published,) = await bus.read_topic(dead_letter_topic("bustest"), expected=1)
    headers = {k: v.decode() for k, v in published.headers}
    assert published.value == huge[:PREVIEW_BYTES] and published.key == long_key[:200].encode()
    assert (headers[H_VALUE_TRUNCATED], headers[H_KEY_TRUNCATED]) == (str(len(huge)), "300")
    await eventually(lambda: _unsent_is(bus, 0), 30, "the outbox to drain")
    assert letter.id is not None
    assert await replay_dead_letters(bus.sessions, "bustest", [letter.id]) == []
    assert [d.id for d in await list_dead_letters(bus.sessions, "bustest")] == [letter.id]


async def _effects_are(bus: BusHarness, seqs: list[int]) -> bool:
    return [e[1] for e in await bus.effects()] == seqs


async def _unsent_is(bus: BusHarness, n: int) -> bool:
    return bool(await bus.scalar("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == n)
