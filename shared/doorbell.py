"""Wakes a polling worker as soon as there is work for it, instead of at its next poll."""

from __future__ import annotations

import asyncio


class Doorbell:
    """``ring`` after committing rows a worker acts on; the worker's ``wait`` returns at once, or after its poll
    interval when nobody rang (work made by another process, or a retry coming due)."""

    def __init__(self) -> None:
        self._rung = asyncio.Event()

    def ring(self) -> None:
        self._rung.set()

    async def wait(self, timeout: float) -> bool:
        """True when rung. Cleared before returning, so a ring during the work that follows wakes the next wait;
        a ring that came before the clear is for rows already committed, which that work reads."""
        try:
            await asyncio.wait_for(self._rung.wait(), timeout)
            rung = True
        except TimeoutError:
            rung = False
        self._rung.clear()
        return rung
