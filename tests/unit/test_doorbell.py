"""A worker's doorbell: a ring wakes the next wait at once, a wait nobody rang for ends at its timeout."""

from __future__ import annotations

import asyncio

from shared.doorbell import Doorbell


async def test_a_ring_before_the_wait_is_not_lost_and_is_used_once() -> None:
    bell = Doorbell()
    bell.ring()
    bell.ring()
    assert await bell.wait(timeout=30) is True
    assert await bell.wait(timeout=0.01) is False, "two rings before one wait are one piece of news"


async def test_a_ring_while_waiting_wakes_the_waiter() -> None:
    bell = Doorbell()
    waiter = asyncio.create_task(bell.wait(timeout=30))
    await asyncio.sleep(0)
    assert not waiter.done()
    bell.ring()
    assert await waiter is True
