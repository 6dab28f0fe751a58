"""A unit of work: one database transaction holding a state change and the events it emits."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from sqlmodel.ext.asyncio.session import AsyncSession

from shared.bus.outbox import stage_event, stage_events
from shared.db import SessionMaker
from shared.events.envelope import Envelope


class UnitOfWork:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.emitted: list[Envelope] = []
        self.on_commit: list[Callable[[], None]] = []

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once this unit of work has committed (e.g. wake the worker that acts on its rows)."""
        if callback not in self.on_commit:
            self.on_commit.append(callback)

    def emit(self, envelope: Envelope) -> None:
        """Stage an event; it leaves through the outbox only if this unit of work commits."""
        stage_event(self.session, envelope)
        self.emitted.append(envelope)

    async def emit_many(self, envelopes: list[Envelope]) -> None:
        """Stage a batch of events in one statement."""
        await stage_events(self.session, envelopes)
        self.emitted.extend(envelopes)


class UnitOfWorkFactory:
    """Opens units of work on a service's database and wakes the outbox relay after each commit;
    ``on_committed`` sees the events of each committed unit of work (a service's own counters)."""

    def __init__(
        self,
        sessions: SessionMaker,
        on_emitted: Callable[[], None] | None = None,
        on_committed: Callable[[list[Envelope]], None] | None = None,
    ) -> None:
        self.sessions = sessions
        self._on_emitted = on_emitted
        self._on_committed = on_committed

    def wake_relay(self) -> None:
        if self._on_emitted is not None:
            self._on_emitted()

    def committed(self, uow: UnitOfWork) -> None:
        """Called after the transaction holding ``uow`` committed."""
        for callback in uow.on_commit:
            callback()
        if not uow.emitted:
            return
        self.wake_relay()
        if self._on_committed is not None:
            self._on_committed(uow.emitted)

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[UnitOfWork]:
        async with self.sessions() as session, session.begin():
            uow = UnitOfWork(session)
            yield uow
        self.committed(uow)
