"""Keeping a dossier's clock rows, timers and clock events in step with its facts.

Every fact recomputes the dossier from its whole history (a dossier has tens of facts), so the rows are
what a replay would give whatever order the events arrived in. Two writers of one dossier (its intake and
routing events on two instances) meet on the row's version: the loser's transaction is retried with the
other's fact in view.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.sla.attribution import overruns, responsible
from services.sla.clock import DossierClock, StepAttempt, project
from services.sla.clock_time import exclusions, merged_intervals
from services.sla.context import Sla
from services.sla.facts import Fact, parse_fact
from services.sla.metrics import DOSSIERS_FINISHED, STEP_BUDGET_SHARE, STEP_WORKING_MINUTES
from services.sla.tables import DossierClockRow, FactRow, StepClockRow, TimerRow
from services.sla.timers import timers
from shared.bus.unit_of_work import UnitOfWork
from shared.db import lock_for_transaction
from shared.events import new_envelope
from shared.events.clock import (
    AppointmentChange,
    AppointmentChanged,
    ClockPaused,
    ClockResumed,
    ClockStarted,
    DossierClosed,
    Overrun,
    PauseKind,
)

PRODUCER = "sla"
CHUNK = 500


def stage_fact(
    uow: UnitOfWork, code: str, event_id: uuid.UUID, type_: str, occurred_at: datetime, payload: BaseModel
) -> None:
    uow.session.add(
        FactRow(
            dossier_code=code,
            event_id=str(event_id),
            type=type_,
            occurred_at=occurred_at,
            recorded_at=datetime.now(UTC),
            payload=payload.model_dump_json(),
        )
    )


def record_decision(uow: UnitOfWork, code: str, type_: str, at: datetime, payload: BaseModel) -> None:
    """sla's own decision (an apology, the reset): a fact of the dossier and the event that tells the others,
    under one event id."""
    event_id = uuid.uuid4()
    stage_fact(uow, code, event_id, type_, at, payload)
    uow.emit(
        new_envelope(
            type=type_, dossier_code=code, producer=PRODUCER, occurred_at=at, payload=payload, event_id=event_id
        )
    )


async def load_histories(
    session: AsyncSession, codes: Sequence[str], until: datetime | None = None
) -> dict[str, list[Fact]]:
    """The facts of each dossier (those that had happened by ``until``), in arrival order; one query per
    few hundred dossiers."""
    histories: dict[str, list[Fact]] = defaultdict(list)
    for i in range(0, len(codes), CHUNK):
        query = select(FactRow).where(col(FactRow.dossier_code).in_(codes[i : i + CHUNK]))
        if until is not None:
            query = query.where(col(FactRow.occurred_at) <= until)
        for r in (await session.exec(query.order_by(col(FactRow.id)))).all():
            histories[r.dossier_code].append(parse_fact(r.type, r.occurred_at, json.loads(r.payload), r.id or 0))
    return histories


async def load_facts(session: AsyncSession, code: str) -> list[Fact]:
    return (await load_histories(session, [code]))[code]


def live_instant(facts: list[Fact], now: datetime | None = None) -> datetime:
    """Now, or the latest fact when one is scheduled ahead (a dossier accepted after 15:00 is handed over at
    the next working day's start)."""
    return max(now or datetime.now(UTC), *(f.occurred_at for f in facts))


async def clock_of(session: AsyncSession, sla: Sla, code: str, as_of: datetime | None) -> DossierClock | None:
    """The clock as of an instant; by default now, or the latest fact when one is scheduled ahead (a dossier
    accepted after 15:00 is handed over at the next working day's start)."""
    facts = await load_facts(session, code)
    return project(code, facts, sla.calendar, as_of or live_instant(facts), sla.outcome_by)


async def refresh(
    uow: UnitOfWork, sla: Sla, code: str, now: datetime | None = None, since: datetime | None = None
) -> DossierClock | None:
    """Recompute the dossier from its facts as of now; write its rows and timers; emit what changed.
    ``since``: when the fact that prompted it happened (timers due before it are not taken back).

    Two instances may each record a fact of the same dossier at once (its intake and routing events travel
    on different topics); each would compute the dossier without the other's fact, and the one that saw no
    acceptance would write nothing to conflict on. A lock per dossier makes the later of the two wait for
    the earlier to commit, so it reads both facts."""
    await uow.session.flush()
    await lock_for_transaction(uow.session, f"sla:dossier:{code}")
    facts = await load_facts(uow.session, code)
    if not facts:
        return None
    clock = project(code, facts, sla.calendar, live_instant(facts, now), sla.outcome_by)
    if clock is None:
        return None
    items = overruns(clock)
    party = responsible(clock, items)
    previous = await uow.session.get(DossierClockRow, code)
    _emit_changes(uow, sla, previous, clock, items, party)
    row = previous or DossierClockRow(
        dossier_code=code,
        procedure_code=clock.procedure_code,
        receiving_unit_code=clock.receiving_unit_code,
        channel=clock.accepted.channel.value,
        accepted_at=clock.accepted_at,
        started_at=clock.started_at,
        state=clock.state,
    )
    _fill(row, clock, items, party)
    uow.session.add(row)
    await _write_steps(uow.session, sla, clock)
    await _reconcile_timers(uow.session, sla, clock, since)
    return clock


def _fill(row: DossierClockRow, clock: DossierClock, items: list[Overrun], party: Overrun | None) -> None:
    for name, value in clock_values(clock, items, party).items():
        setattr(row, name, value)


def clock_values(clock: DossierClock, items: list[Overrun], party: Overrun | None) -> dict[str, Any]:
    """The computed columns of a dossier's clock row (the rest are set once, at acceptance)."""
    current = clock.current
    return {
        "original_appointment_at": clock.original_appointment_at,
        "appointment_at": clock.appointment_at,
        "state": clock.state,
        "open_exclusion": clock.open_exclusion.value if clock.open_exclusion else None,
        "ended_at": clock.ended_at,
        "outcome": clock.outcome.value if clock.outcome else None,
        "returned_at": clock.returned_at,
        "used_minutes": clock.used_minutes,
        "paused_minutes": clock.paused_minutes,
        "current_unit_code": current.unit_code if current else None,
        "current_unit_level": current.unit_level if current else None,
        "reset_at": clock.reset_at,
        "apologies": len(clock.apologies),
        "responsible_party": party.party.value if party else None,
        "responsible_unit_code": party.unit_code if party else None,
        "responsible_level": party.level if party else None,
        "overruns": json.dumps([o.model_dump(mode="json") for o in items]),
    }


async def _write_steps(session: AsyncSession, sla: Sla, clock: DossierClock) -> None:
    existing = {
        r.ref: r
        for r in (await session.exec(select(StepClockRow).where(col(StepClockRow.dossier_code) == clock.code))).all()
    }
    for a in clock.attempts:
        row = existing.get(a.ref) or StepClockRow(
            ref=a.ref,
            dossier_code=clock.code,
            step_id=a.step_id,
            seq=a.seq,
            attempt=a.attempt,
            unit_code=a.unit_code,
            assigned_at=a.assigned_at,
        )
        values = step_values(a)
        if row.is_open and not a.open and a.end in ("completed", "sent_back") and a.ended_at is not None:
            _observe_step(sla, a.unit_code, a.unit_level, a.budget_minutes, a.assigned_at, a.ended_at, a.paused_minutes)
        for name, value in values.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
        session.add(row)
    # An attempt the facts no longer hold: a handover dated after the dossier ended (withdrawn before the step
    # was due to start) was written when its event came first; the projection has since dropped it.
    kept = {a.ref for a in clock.attempts}
    for ref, row in existing.items():
        if ref not in kept:
            await session.delete(row)


def step_values(a: StepAttempt) -> dict[str, Any]:
    """The computed columns of a step attempt's row (the rest are set once, at its assignment)."""
    return {
        "key": a.key,
        "name": a.name,
        "unit_level": a.unit_level,
        "from_unit_code": a.from_unit_code,
        "budget_minutes": a.budget_minutes,
        "counts": a.counts,
        "is_open": a.open,
        "paused": a.paused_now,
        "accepted_at": a.accepted_at,
        "deadline_at": a.deadline_at,
        "ended_at": a.ended_at,
        "ending": a.end,
        "result": a.result.value if a.result else None,
        "paused_minutes": a.paused_minutes,
        "interconnection_minutes": a.interconnection_minutes,
        "overrun_minutes": a.overrun_minutes,
        "interconnection_overrun_minutes": a.interconnection_overrun_minutes,
    }


def _observe_step(sla: Sla, unit: str, level: str, budget: int, start: datetime, end: datetime, paused: int) -> None:
    minutes = max(0, sla.calendar.working_minutes_between(start, end) - paused)
    STEP_WORKING_MINUTES.labels(unit, level or "unknown").observe(minutes)
    if budget:
        STEP_BUDGET_SHARE.labels(level or "unknown").observe(minutes / budget)


async def _reconcile_timers(session: AsyncSession, sla: Sla, clock: DossierClock, since: datetime | None) -> None:
    """Pending timers become the ones the clock wants, with the event each will publish. A pending timer
    the clock no longer wants but that fell due before the fact now applied (``since``) stays: it was due
    while that was still true (the sweep was behind). Fired ones stay fired: each fires once."""
    wanted = {t.key: t for t in timers(clock, sla.calendar, sla.policy)}
    rows = (await session.exec(select(TimerRow).where(col(TimerRow.dossier_code) == clock.code))).all()
    have = {r.key: r for r in rows}
    stale = [r.id for r in rows if r.fired_at is None and r.key not in wanted and (since is None or r.due_at >= since)]
    if stale:
        await session.exec(delete(TimerRow).where(col(TimerRow.id).in_(stale), col(TimerRow.fired_at).is_(None)))
    for key, timer in wanted.items():
        payload = timer.payload.model_dump_json() if timer.payload is not None else None
        row = have.get(key)
        if row is None:
            session.add(
                TimerRow(dossier_code=clock.code, key=key, kind=timer.kind, due_at=timer.due_at, payload=payload)
            )
        elif row.fired_at is None and (row.due_at != timer.due_at or row.payload != payload):
            await session.exec(
                update(TimerRow)
                .where(col(TimerRow.id) == row.id, col(TimerRow.fired_at).is_(None))
                .values(due_at=timer.due_at, payload=payload)
            )


def _emit(uow: UnitOfWork, code: str, type_: str, at: datetime, payload: BaseModel) -> None:
    uow.emit(new_envelope(type=type_, dossier_code=code, producer=PRODUCER, occurred_at=at, payload=payload))


def _emit_changes(
    uow: UnitOfWork,
    sla: Sla,
    previous: DossierClockRow | None,
    clock: DossierClock,
    items: list[Overrun],
    party: Overrun | None,
) -> None:
    code = clock.code
    if previous is None:
        _emit(
            uow,
            code,
            "clock.started",
            clock.started_at,
            ClockStarted(started_at=clock.started_at, appointment_at=clock.original_appointment_at),
        )
    was_paused = previous is not None and previous.open_exclusion is not None
    ended_before = previous is not None and previous.ended_at is not None
    if clock.ending is None and clock.open_exclusion is not None and not was_paused:
        start = _last_block(clock)[0]
        _emit(
            uow,
            code,
            "clock.paused",
            start,
            ClockPaused(paused_at=start, kind=clock.open_exclusion, appointment_at=clock.appointment_at),
        )
    if previous is not None and was_paused and clock.open_exclusion is None and not ended_before:
        start, end = _last_block(clock)
        kind = PauseKind(previous.open_exclusion or PauseKind.SUPPLEMENT.value)
        _emit(
            uow,
            code,
            "clock.resumed",
            end,
            ClockResumed(
                resumed_at=end,
                kind=kind,
                paused_minutes=max(0, sla.calendar.working_minutes_between(start, end)),
                appointment_at=clock.appointment_at,
            ),
        )
        if clock.ending is None and clock.appointment_at and previous.appointment_at != clock.appointment_at:
            _emit(
                uow,
                code,
                "dossier.appointment_changed",
                end,
                AppointmentChanged(
                    appointment_at=clock.appointment_at,
                    previous_appointment_at=previous.appointment_at or clock.appointment_at,
                    change=AppointmentChange.RESUMED,
                ),
            )
    if clock.ending is not None and clock.ended_at is not None and not ended_before:
        if clock.ending == "resolved":
            outcome = clock.outcome.value if clock.outcome else "unknown"
            DOSSIERS_FINISHED.labels(clock.receiving_unit_code, outcome, party.level if party else "none").inc()
        _emit(
            uow,
            code,
            "dossier.closed",
            clock.ended_at,
            DossierClosed(
                closed_at=clock.ended_at,
                ending=clock.ending,
                outcome=clock.outcome,
                appointment_at=clock.appointment_at,
                used_minutes=clock.used_minutes,
                paused_minutes=clock.paused_minutes,
                responsible=party,
                overruns=items,
                receiving_unit_code=clock.receiving_unit_code,
            ),
        )


def _last_block(clock: DossierClock) -> tuple[datetime, datetime]:
    """The last run of excluded time (pauses, steps not counted)."""
    end = clock.ended_at or clock.as_of
    blocks = merged_intervals(exclusions(clock, end))
    return blocks[-1] if blocks else (end, end)
