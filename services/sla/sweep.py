"""Firing the timers that are due: step and dossier warnings, overdue flags and apologies.

A sweep reads the pending timers whose instant has come through their index (work proportional to what
is due, not to what is open), each in its own transaction with its dossier: it checks the timer against
the dossier's clock at that instant (a late fact may have moved or removed it), marks it fired and emits
its event in the same transaction, so each fires once. On PostgreSQL several instances share the work:
a timer row is claimed with FOR UPDATE SKIP LOCKED.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy import update
from sqlmodel import col, select

from services.sla.attribution import responsible
from services.sla.clock import DossierClock
from services.sla.context import Sla
from services.sla.metrics import APOLOGIES, SWEEP_SECONDS, TIMERS_FIRED
from services.sla.projection import PRODUCER, clock_of, refresh, stage_fact
from services.sla.tables import TimerRow
from services.sla.timers import (
    APOLOGY,
    DOSSIER_DUE_SOON,
    DOSSIER_OVERDUE,
    STEP_DUE_SOON,
    STEP_OVERDUE,
    proposed_appointment,
    timers,
)
from services.sla.wording import apology_reason
from shared.bus.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shared.events import new_envelope
from shared.events.clock import ApologyRequired, DossierTimer, StepTimer

log = logging.getLogger(__name__)


def _emit(uow: UnitOfWork, type_: str, code: str, at: datetime, payload: BaseModel) -> None:
    uow.emit(new_envelope(type=type_, dossier_code=code, producer=PRODUCER, occurred_at=at, payload=payload))


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

    async def due(self, now: datetime) -> list[int]:
        """The ids of the timers due at ``now``, oldest first (one index range)."""
        async with self._units() as uow:
            query = (
                select(TimerRow.id)
                .where(col(TimerRow.fired_at).is_(None), col(TimerRow.due_at) <= now)
                .order_by(col(TimerRow.due_at))
                .limit(self._batch)
            )
            return [i for i in (await uow.session.exec(query)).all() if i is not None]

    async def sweep(self, now: datetime | None = None) -> int:
        """Fire every timer due at ``now``; how many fired."""
        at = now or datetime.now(UTC)
        fired = 0
        with SWEEP_SECONDS.time():
            for timer_id in await self.due(at):
                async with self._units() as uow:
                    fired += await self._fire(uow, timer_id, at)
        return fired

    async def _fire(self, uow: UnitOfWork, timer_id: int, now: datetime) -> int:
        query = select(TimerRow).where(col(TimerRow.id) == timer_id, col(TimerRow.fired_at).is_(None))
        if self._skip_locked:
            query = query.with_for_update(skip_locked=True)
        timer = (await uow.session.exec(query)).first()
        if timer is None:
            return 0  # another instance has it, or it fired, or its dossier moved on
        clock = await clock_of(uow.session, self._sla, timer.dossier_code, timer.due_at)
        wanted = {t.key: t for t in timers(clock, self._sla.calendar, self._sla.policy)} if clock else {}
        current = wanted.get(timer.key)
        if clock is None or current is None or current.due_at > timer.due_at:
            await refresh(uow, self._sla, timer.dossier_code, now)  # stale: put the timers right
            return 0
        await uow.session.exec(
            update(TimerRow).where(col(TimerRow.id) == timer.id, col(TimerRow.fired_at).is_(None)).values(fired_at=now)
        )
        await self._publish(uow, clock, timer)
        TIMERS_FIRED.labels(timer.kind).inc()
        if timer.kind == APOLOGY:
            await refresh(uow, self._sla, timer.dossier_code, now)
        return 1

    async def _publish(self, uow: UnitOfWork, clock: DossierClock, timer: TimerRow) -> None:
        code, at = clock.code, timer.due_at
        if timer.kind in (STEP_DUE_SOON, STEP_OVERDUE):
            ref = timer.key.split("|", 1)[1]
            attempt = next(a for a in clock.attempts if a.ref == ref)
            assert attempt.deadline_at is not None
            payload = StepTimer(
                step_id=attempt.step_id,
                seq=attempt.seq,
                attempt=attempt.attempt,
                step_key=attempt.key or None,
                step_name=attempt.name or None,
                unit_code=attempt.unit_code,
                unit_level=attempt.unit_level,
                deadline_at=attempt.deadline_at,
                receiving_unit_code=clock.receiving_unit_code,
            )
            uow.emit(
                new_envelope(type=timer.kind, dossier_code=code, producer=PRODUCER, occurred_at=at, payload=payload)
            )
        elif timer.kind in (DOSSIER_DUE_SOON, DOSSIER_OVERDUE):
            assert clock.appointment_at is not None
            current = clock.current
            dossier = DossierTimer(
                appointment_at=clock.appointment_at,
                receiving_unit_code=clock.receiving_unit_code,
                current_unit_code=current.unit_code if current else None,
                current_unit_level=current.unit_level if current else None,
                responsible=responsible(clock, even_if_on_time=True) if timer.kind == DOSSIER_OVERDUE else None,
            )
            uow.emit(
                new_envelope(type=timer.kind, dossier_code=code, producer=PRODUCER, occurred_at=at, payload=dossier)
            )
        elif timer.kind == APOLOGY:
            await self._apologise(uow, clock, at)

    async def _apologise(self, uow: UnitOfWork, clock: DossierClock, at: datetime) -> None:
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
        event_id = uuid.uuid4()
        stage_fact(uow, code := clock.code, event_id, "dossier.apology_required", at, payload)
        uow.emit(
            new_envelope(
                type="dossier.apology_required",
                dossier_code=code,
                producer=PRODUCER,
                occurred_at=at,
                payload=payload,
                event_id=event_id,
            )
        )
