"""Firing the timers that are due: step and dossier warnings, overdue flags and apologies.

A sweep claims a batch of due timers in one statement — marked fired and returned, read through the index
of pending timers by due instant, so the work is proportional to what is due, not to what is open — and
publishes their events in the same transaction, so each fires once. On PostgreSQL several instances share
the work: the claim skips rows another instance holds (FOR UPDATE SKIP LOCKED).

The timers need no check here: the projection rewrites a dossier's pending timers, with the event each
will publish, in the same transaction as every fact of it. Only two kinds are written at the instant they
fire, from the history as of that instant: the overdue dossier's responsible party, and the apology (its
reason, responsible unit and proposed appointment), which is also recorded as a fact of the dossier.

A timer's event has the same id each time it fires (``fired_event_id``): fired timers come back pending after
a rebuild, and firing them again must not warn anyone twice. The outbox does not stage an event it still
holds; one already gone from it goes out again under its id, and the consumers' inboxes skip it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from services.sla.attribution import responsible
from services.sla.clock import DossierClock, project
from services.sla.context import Sla
from services.sla.metrics import APOLOGIES, SWEEP_SECONDS, TIMERS_FIRED
from services.sla.projection import PRODUCER, load_histories, record_decision, refresh
from services.sla.tables import TimerRow
from services.sla.timers import APOLOGY, DOSSIER_OVERDUE, dossier_timer, fired_event_id, proposed_appointment
from services.sla.wording import apology_reason
from shared.bus.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shared.events import Envelope, new_envelope
from shared.events.clock import ApologyRequired
from shared.events.registry import event_type

log = logging.getLogger(__name__)
WRITTEN_WHEN_FIRED = (DOSSIER_OVERDUE, APOLOGY)


@dataclass(frozen=True)
class Claimed:
    dossier_code: str
    key: str
    kind: str
    due_at: datetime
    payload: str | None


class Sweeper:
    def __init__(self, units: UnitOfWorkFactory, sla: Sla, batch: int, interval_s: float, skip_locked: bool) -> None:
        self._units = units
        self._sla = sla
        self._batch = batch
        self._interval = interval_s
        self._skip_locked = skip_locked

    async def run(self) -> None:
        while True:
            try:
                fired = await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sla sweep failed")
                fired = 0
            if fired < self._batch:
                await asyncio.sleep(self._interval)

    def _due(self, now: datetime) -> SelectOfScalar[int] | SelectOfScalar[None]:
        """The timers due at ``now``, oldest first, a batch of them: one range of ix_sla_timer_due."""
        return (
            select(TimerRow.id)
            .where(col(TimerRow.fired_at).is_(None), col(TimerRow.due_at) <= now)
            .order_by(col(TimerRow.due_at))
            .limit(self._batch)
        )

    async def due(self, now: datetime) -> list[int]:
        """The ids of the timers a sweep at ``now`` would claim (what the benchmark reads alone)."""
        async with self._units.sessions() as session:
            return [i for i in (await session.exec(self._due(now))).all() if i is not None]

    async def sweep(self, now: datetime | None = None) -> int:
        """Fire a batch of the timers due at ``now``; how many fired."""
        at = now or datetime.now(UTC)
        with SWEEP_SECONDS.time():
            async with self._units() as uow:
                claimed = await self._claim(uow, at)
                late = [c for c in claimed if c.kind in WRITTEN_WHEN_FIRED]
                clocks = await self._clocks_at(uow.session, late) if late else {}
                apologised: list[Claimed] = []
                batch: list[Envelope] = []
                for c in claimed:
                    if c.kind == APOLOGY:
                        if (clock := clocks.get((c.dossier_code, c.due_at))) is not None:
                            self._apologise(uow, clock, c.due_at)
                            apologised.append(c)
                    elif c.kind == DOSSIER_OVERDUE:
                        if (clock := clocks.get((c.dossier_code, c.due_at))) is not None:
                            party = responsible(clock, even_if_on_time=True)
                            batch.append(_envelope(c, dossier_timer(clock, party)))
                    elif c.payload is not None:
                        batch.append(_envelope(c, _payload(c.kind, c.payload)))
                for kind, fired in Counter(c.kind for c in claimed).items():
                    TIMERS_FIRED.labels(kind).inc(fired)
                await uow.emit_many(batch)
                for c in apologised:
                    await refresh(uow, self._sla, c.dossier_code, at, since=c.due_at)
        return len(claimed)

    async def _claim(self, uow: UnitOfWork, at: datetime) -> list[Claimed]:
        """Mark a batch of due timers fired and return them, in one statement."""
        due = self._due(at)
        if self._skip_locked:
            due = due.with_for_update(skip_locked=True)
        claim = (
            update(TimerRow)
            .where(col(TimerRow.id).in_(due.scalar_subquery()))
            .values(fired_at=at)
            .returning(
                col(TimerRow.dossier_code),
                col(TimerRow.key),
                col(TimerRow.kind),
                col(TimerRow.due_at),
                col(TimerRow.payload),
            )
            .execution_options(synchronize_session=False)
        )
        rows = (await uow.session.execute(claim)).all()
        return [Claimed(*row) for row in rows]

    async def _clocks_at(
        self, session: AsyncSession, claimed: list[Claimed]
    ) -> dict[tuple[str, datetime], DossierClock]:
        """Each claimed dossier's clock at its timer's instant, from its facts (read in one query)."""
        facts = await load_histories(session, sorted({c.dossier_code for c in claimed}))
        found: dict[tuple[str, datetime], DossierClock] = {}
        for c in claimed:
            clock = project(c.dossier_code, facts[c.dossier_code], self._sla.calendar, c.due_at, self._sla.outcome_by)
            if clock is not None and clock.appointment_at is not None:
                found[(c.dossier_code, c.due_at)] = clock
        return found

    def _apologise(self, uow: UnitOfWork, clock: DossierClock, at: datetime) -> None:
        assert clock.appointment_at is not None
        party = responsible(clock, even_if_on_time=True)
        current = clock.current
        unit_code = party.unit_code if party else (current.unit_code if current else clock.receiving_unit_code)
        level = party.level if party else (current.unit_level if current else "")
        payload = ApologyRequired(
            appointment_at=clock.appointment_at,
            proposed_appointment_at=proposed_appointment(clock, self._sla.calendar, at),
            responsible_unit_code=unit_code,
            responsible_level=level,
            reason=apology_reason(clock, party, self._sla.unit_name),
            receiving_unit_code=clock.receiving_unit_code,
            reset_allowed=clock.reset is None,
        )
        APOLOGIES.labels(clock.receiving_unit_code, level or "unknown").inc()
        record_decision(uow, clock.code, "dossier.apology_required", at, payload)


def _envelope(c: Claimed, payload: BaseModel) -> Envelope:
    return new_envelope(
        type=c.kind,
        dossier_code=c.dossier_code,
        producer=PRODUCER,
        occurred_at=c.due_at,
        payload=payload,
        event_id=fired_event_id(c.dossier_code, c.key, c.due_at),
    )


def _payload(kind: str, raw: str) -> BaseModel:
    return event_type(kind).payload.model_validate_json(raw)
