"""Poison messages go to the dead-letter topic with the reason; the partition moves on; replay works."""

from __future__ import annotations

import json

import pytest

from shared.bus.deadletters import (
    H_ATTEMPTS,
    H_ERROR_CLASS,
    H_ERROR_MESSAGE,
    H_ORIGIN_OFFSET,
    H_ORIGIN_PARTITION,
    H_ORIGIN_TOPIC,
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
