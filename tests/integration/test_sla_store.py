"""sla on its real database (SQLite, or PostgreSQL when LIENTHONG_TEST_DATABASE_URL is set): facts fed in
any order leave the rows a rebuild gives and emit each clock event once; the sweep fires each due timer
once, also with two sweepers racing on the same database."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import delete, update
from sqlmodel import col, select

from services.sla.context import Sla
from services.sla.handlers import build_handlers
from services.sla.main import MIGRATIONS
from services.sla.metrics import refresh_gauges
from services.sla.projection import refresh
from services.sla.settings import SlaSettings
from services.sla.sweep import Sweeper
from services.sla.tables import DossierClockRow, FactRow, StepClockRow, TimerRow
from shared.bus.tables import OutboxRecord
from shared.bus.unit_of_work import UnitOfWorkFactory
from shared.db import create_engine, is_sqlite, migrate, session_maker
from shared.events import new_envelope
from tests.support.sla_history import History, PlanStep, vn

COMMUNE = PlanStep("H56.101", "commune", 480, name="Tiếp nhận, thẩm định")
DISTRICT = PlanStep("H56.10", "district", 960, name="Phê duyệt")
MON = vn(2026, 3, 9, 8)


@pytest.fixture(scope="module")
def sla() -> Sla:
    return Sla.load(SlaSettings.load())


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url, "sla")
        self.units = UnitOfWorkFactory(session_maker(self.engine))

    async def outbox_types(self, code: str) -> Counter[str]:
        async with self.units() as uow:
            rows = (await uow.session.exec(select(OutboxRecord).where(col(OutboxRecord.key) == code))).all()
        return Counter(r.event_type for r in rows)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    s = Store(database_url.format(service="sla"))
    await migrate(s.engine, "sla", MIGRATIONS)
    yield s
    await s.engine.dispose()


async def feed(store: Store, sla: Sla, h: History, order: list[int]) -> None:
    handlers = build_handlers(sla)
    for i in order:
        fact = h.facts[i]
        registration = handlers.get(fact.type)
        assert registration is not None, fact.type
        envelope = new_envelope(
            type=fact.type, dossier_code=h.code, producer="test", occurred_at=fact.occurred_at, payload=fact.payload
        )
        async with store.units() as uow:
            await registration.handler(uow, envelope, fact.payload)


def resolved_history(code: str) -> History:
    h = History(code=code).accepted(MON, vn(2026, 3, 12, 8)).planned(MON, COMMUNE, DISTRICT).assigned(1, MON)
    h.supplement(vn(2026, 3, 9, 10)).supplemented(vn(2026, 3, 9, 14))
    h.completed(1, vn(2026, 3, 10, 15), MON).assigned(2, vn(2026, 3, 10, 15), 1)
    h.completed(2, vn(2026, 3, 13, 10), vn(2026, 3, 10, 15)).resolved(vn(2026, 3, 13, 10))
    return h


async def rows(store: Store, code: str) -> tuple[object, ...]:
    async with store.units() as uow:
        d = await uow.session.get(DossierClockRow, code)
        steps = (await uow.session.exec(select(StepClockRow).where(col(StepClockRow.dossier_code) == code))).all()
        timers = (await uow.session.exec(select(TimerRow).where(col(TimerRow.dossier_code) == code))).all()
    assert d is not None
    return (
        d.state,
        d.appointment_at,
        d.outcome,
        d.used_minutes,
        d.paused_minutes,
        d.responsible_unit_code,
        d.overruns,
        sorted((s.ref, s.deadline_at, s.result, s.overrun_minutes, s.is_open) for s in steps),
        sorted((t.key, t.due_at) for t in timers if t.fired_at is None),
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_facts_in_any_order_leave_the_rows_a_rebuild_gives(store: Store, sla: Sla, seed: int) -> None:
    code = f"H56.101-260309-{seed:04d}"
    h = resolved_history(code)
    order = list(range(len(h.facts)))
    random.Random(seed).shuffle(order)
    await feed(store, sla, h, order)
    live = await rows(store, code)
    async with store.units() as uow:  # a replay: rows dropped, rebuilt from the facts alone
        await uow.session.delete(await uow.session.get(DossierClockRow, code))
    async with store.units() as uow:
        await refresh(uow, sla, code)
    assert await rows(store, code) == live
    assert live[0] == "resolved" and live[2] == "late" and live[5] == "H56.10"
    assert live[8] == []  # a finished dossier waits for no timer


async def test_in_order_each_clock_event_is_emitted_once(store: Store, sla: Sla) -> None:
    code = "H56.101-260309-0100"
    h = resolved_history(code)
    await feed(store, sla, h, list(range(len(h.facts))))
    emitted = await store.outbox_types(code)
    assert emitted == Counter(
        {
            "clock.started": 1,
            "clock.paused": 1,
            "clock.resumed": 1,
            "dossier.appointment_changed": 1,
            "dossier.closed": 1,
        }
    )


def open_history(code: str) -> History:
    """Step 2 overran (due Wed 11/3 11:00; notice Tue 10/3 11:00) and the appointment (Thu 12/3 08:00) has
    passed. Step 1 finished before its own notice (halfway: Mon 14:00)."""
    h = History(code=code).accepted(MON, vn(2026, 3, 12, 8)).planned(MON, COMMUNE, DISTRICT).assigned(1, MON)
    return h.completed(1, vn(2026, 3, 9, 11), MON).assigned(2, vn(2026, 3, 9, 11), 1)


async def test_the_sweep_fires_each_due_timer_once_and_records_the_apology(store: Store, sla: Sla) -> None:
    code = "H56.101-260309-0200"
    h = open_history(code)
    await feed(store, sla, h, list(range(len(h.facts))))
    sweeper = Sweeper(store.units, sla, batch=100, interval_s=1, skip_locked=not is_sqlite(store.engine))
    assert await sweeper.sweep(vn(2026, 3, 10, 10)) == 0  # nothing due yet
    assert await sweeper.sweep(vn(2026, 3, 20)) == 5
    assert await sweeper.sweep(vn(2026, 3, 21)) == 0
    emitted = await store.outbox_types(code)
    for kind in ("step.due_soon", "step.overdue", "dossier.due_soon", "dossier.overdue", "dossier.apology_required"):
        assert emitted[kind] == 1, kind
    async with store.units() as uow:
        facts = (await uow.session.exec(select(FactRow.type).where(col(FactRow.dossier_code) == code))).all()
        d = await uow.session.get(DossierClockRow, code)
    assert facts.count("dossier.apology_required") == 1
    assert d is not None and d.apologies == 1


async def test_a_timer_fired_again_after_a_rebuild_publishes_the_same_event_once(store: Store, sla: Sla) -> None:
    code = "H56.101-260309-0210"
    h = open_history(code)
    await feed(store, sla, h, list(range(len(h.facts))))
    sweeper = Sweeper(store.units, sla, batch=100, interval_s=1, skip_locked=not is_sqlite(store.engine))
    assert await sweeper.sweep(vn(2026, 3, 20)) == 5
    warnings = ("step.due_soon", "step.overdue", "dossier.due_soon", "dossier.overdue")

    async def published() -> dict[str, list[str]]:
        async with store.units() as uow:
            query = select(OutboxRecord).where(
                col(OutboxRecord.key) == code, col(OutboxRecord.event_type).in_(warnings)
            )
            rows = (await uow.session.exec(query.order_by(col(OutboxRecord.id)))).all()
        found: dict[str, list[str]] = {}
        for r in rows:
            found.setdefault(r.event_type, []).append(r.event_id)
        return found

    async def back_pending() -> None:
        # What a rebuild leaves: the warnings it projects from the history come back pending (the apology does
        # not, its fact is in the history).
        async with store.units() as uow:
            await uow.session.exec(
                update(TimerRow)
                .where(col(TimerRow.dossier_code) == code, col(TimerRow.kind).in_(warnings))
                .values(fired_at=None)
            )

    first = await published()
    assert sorted(first) == sorted(warnings) and all(len(ids) == 1 for ids in first.values())
    await back_pending()
    assert await sweeper.sweep(vn(2026, 3, 21)) == 4
    assert await published() == first  # still in the outbox: not staged again

    async with store.units() as uow:  # past the outbox's retention: the rows are gone
        await uow.session.exec(delete(OutboxRecord).where(col(OutboxRecord.key) == code))
    await back_pending()
    assert await sweeper.sweep(vn(2026, 3, 22)) == 4
    assert await published() == first  # out again, under the same ids: the consumers' inboxes skip them


@pytest.mark.parametrize(
    ("finished", "fired"),
    [
        (vn(2026, 3, 10, 10), {"step.due_soon": 0, "step.overdue": 0}),  # before the notice (Tue 11:00)
        (vn(2026, 3, 11, 10), {"step.due_soon": 1, "step.overdue": 0}),  # after the notice, before the deadline
        (vn(2026, 3, 12, 10), {"step.due_soon": 1, "step.overdue": 1}),  # after the deadline (Wed 11:00)
    ],
)
async def test_a_sweep_that_was_behind_fires_what_fell_due_before_the_step_finished(
    store: Store, sla: Sla, finished: datetime, fired: dict[str, int]
) -> None:
    code = f"H56.101-260309-03{finished.day:02d}"
    h = open_history(code)
    await feed(store, sla, h, list(range(len(h.facts))))
    # The completion reaches sla before any sweep ran (a sweeper down, or behind): what was due before the
    # step finished still fires, once; what would have been due after it does not.
    h.completed(2, finished, vn(2026, 3, 9, 11))
    await feed(store, sla, h, [len(h.facts) - 1])
    sweeper = Sweeper(store.units, sla, batch=100, interval_s=1, skip_locked=not is_sqlite(store.engine))
    await sweeper.sweep(vn(2026, 3, 20))
    await sweeper.sweep(vn(2026, 3, 21))
    emitted = await store.outbox_types(code)
    assert {k: emitted[k] for k in fired} == fired
    assert emitted["dossier.overdue"] == 1  # the dossier itself is still without a result


async def test_two_sweepers_racing_fire_each_warning_exactly_once(database_url: str, sla: Sla) -> None:
    url = database_url.format(service="sla")
    first, second = Store(url), Store(url)
    await migrate(first.engine, "sla", MIGRATIONS)
    try:
        codes = [f"H56.101-260309-{n:04d}" for n in range(400, 440)]
        for code in codes:
            h = open_history(code)
            await feed(first, sla, h, list(range(len(h.facts))))
        skip = not is_sqlite(first.engine)
        a = Sweeper(first.units, sla, batch=7, interval_s=1, skip_locked=skip)
        b = Sweeper(second.units, sla, batch=7, interval_s=1, skip_locked=skip)
        now = datetime(2026, 3, 20, tzinfo=UTC)

        async def drain(s: Sweeper) -> int:
            total = 0
            while fired := await s.sweep(now):
                total += fired
            return total

        fired = await asyncio.gather(drain(a), drain(b))
        assert sum(fired) == 5 * len(codes)
        for code in codes:
            emitted = await first.outbox_types(code)
            assert [emitted[k] for k in sorted(emitted) if k != "clock.started"] == [1, 1, 1, 1, 1], (code, emitted)
    finally:
        await first.engine.dispose()
        await second.engine.dispose()


async def test_gauges_and_counters_follow_the_clocks(store: Store, sla: Sla) -> None:
    before = (
        REGISTRY.get_sample_value("lienthong_sla_step_working_minutes_count", {"unit": "H56.101", "level": "commune"})
        or 0.0
    )
    finished_before = (
        REGISTRY.get_sample_value(
            "lienthong_sla_dossiers_finished_total",
            {"unit": "H56.101", "outcome": "late", "responsible_level": "district"},
        )
        or 0.0
    )
    for n in range(3):  # open, step 2 overdue since Wed 11/3 16:00
        h = open_history(f"H56.101-260309-05{n:02d}")
        await feed(store, sla, h, list(range(len(h.facts))))
    done = resolved_history("H56.101-260309-0599")  # resolved late, charged to the district
    await feed(store, sla, done, list(range(len(done.facts))))
    async with store.units() as uow:
        await refresh_gauges(uow.session, sla.calendar, sla.policy.step_notice_minutes)

    def value(name: str, **labels: str) -> float | None:
        return REGISTRY.get_sample_value(name, labels)

    assert value("lienthong_sla_dossiers_in_progress", unit="H56.101", state="running") == 3
    assert value("lienthong_sla_dossiers_overdue", unit="H56.101") == 3
    assert value("lienthong_sla_steps_overdue", unit="H56.10", level="district") == 3
    assert value("lienthong_sla_steps_open", unit="H56.10", level="district") == 3
    assert value("lienthong_sla_steps_open", unit="H56.101", level="commune") is None
    assert value("lienthong_sla_step_working_minutes_count", unit="H56.101", level="commune") == before + 4
    finished = value(
        "lienthong_sla_dossiers_finished_total", unit="H56.101", outcome="late", responsible_level="district"
    )
    assert finished == finished_before + 1


async def test_a_handover_dated_after_a_withdrawal_leaves_no_open_step(store: Store, sla: Sla) -> None:
    """Withdrawn at 08:59:44, before the step's handover at 09:00 (handovers fall on whole minutes): whichever
    event sla reads first, no step clock stays open. Found by make chaos on PostgreSQL."""
    code = "H56.101-260309-0200"
    h = History(code=code).accepted(MON, vn(2026, 3, 12, 8)).planned(MON, COMMUNE, DISTRICT)
    h.assigned(1, vn(2026, 3, 9, 9)).withdrawn(datetime(2026, 3, 9, 1, 59, 44, tzinfo=UTC))
    await feed(store, sla, h, list(range(len(h.facts))))  # the assignment is read first and written open
    async with store.units() as uow:
        steps = (await uow.session.exec(select(StepClockRow).where(col(StepClockRow.dossier_code) == code))).all()
        clock = await uow.session.get(DossierClockRow, code)
    assert clock is not None and clock.state == "withdrawn"
    assert [s.is_open for s in steps] == [], "the projection dropped the late attempt; so does the table"
