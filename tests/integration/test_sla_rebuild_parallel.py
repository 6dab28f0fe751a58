"""sla's rebuild with worker processes on a real database: the same generated history replayed by one
``Replay`` into one database and by two worker processes into another gives the same tables (the facts'
ids and the instants rows were recorded at aside). One dossier's events are split over two groups that
different workers replay, so each projects it from half its facts: the parent projects it again from all
of them, as one replay does for a dossier found again in a later group."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.sla.context import Sla
from services.sla.main import MIGRATIONS
from services.sla.rebuild import CONSUMER
from services.sla.rebuild_parallel import Batch, InMemorySource, plan, replay_in_parallel
from services.sla.rebuild_replay import Message, Replay
from services.sla.rebuild_store import BulkStore
from services.sla.settings import SlaSettings
from shared.db import create_engine, migrate
from tests.support.infra import fresh_database_url
from tests.support.sla_generated import FUTURE, envelopes, histories

pytestmark = pytest.mark.integration
DOSSIERS = 120
GROUPS = 4
NOW = datetime(2027, 3, 20, 3, 0, tzinfo=UTC)

TABLES = {
    "sla_fact": "SELECT dossier_code, event_id, type, occurred_at, payload FROM sla_fact ORDER BY event_id",
    "inbox": "SELECT consumer, event_id, event_type FROM inbox ORDER BY event_id",
    "dossier_clock": "SELECT * FROM dossier_clock ORDER BY dossier_code",
    "step_clock": "SELECT * FROM step_clock ORDER BY ref",
    "sla_timer": "SELECT dossier_code, key, kind, due_at, fired_at, payload FROM sla_timer ORDER BY dossier_code, key",
}
ORDER = "SELECT dossier_code, event_id FROM sla_fact ORDER BY dossier_code, id"


@pytest.fixture(scope="module")
def sla() -> Sla:
    return Sla.load(SlaSettings.load())


@pytest.fixture
async def engines(tmp_path: Path) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    """Two fresh sla databases (SQLite files, or PostgreSQL databases): the serial replay's and the
    workers'."""
    found = []
    for name in ("serial", "parallel"):
        engine = create_engine(fresh_database_url(tmp_path / name).format(service="sla"), "sla")
        await migrate(engine, "sla", MIGRATIONS)
        found.append(engine)
    yield found[0], found[1]
    for engine in found:
        await engine.dispose()


def grouped(sla: Sla) -> tuple[dict[int, list[Batch]], str]:
    """The generated dossiers' values by group (dossier *n* in group *n* mod 4), in batches; the last
    dossier's first half in group 0 and its second half in group 1 (their workers differ); and its code."""
    rng = random.Random(3)
    generated = list(histories(DOSSIERS, 20_261_203, sla.calendar, FUTURE, 15))
    values: dict[int, list[Message]] = {g: [] for g in range(GROUPS)}
    for n, h in enumerate(generated[:-1]):
        values[n % GROUPS] += [(e.key, e.value) for e in envelopes(h, rng, datetime.now(UTC))]
    split = generated[-1]
    events: list[Message] = [(e.key, e.value) for e in envelopes(split, rng, datetime.now(UTC))]
    half = len(events) // 2
    values[0] += events[:half]
    values[1] += events[half:]
    return {g: [(v[i : i + 25], False) for i in range(0, len(v), 25)] for g, v in values.items()}, split.code


async def rows(engine: AsyncEngine, sql: str) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        return [dict(r._mapping) for r in (await conn.execute(text(sql))).all()]


def test_the_groups_are_shared_out_in_turn() -> None:
    assert plan(range(12), 2) == [(0, 2, 4, 6, 8, 10), (1, 3, 5, 7, 9, 11)]
    assert plan(range(3), 4) == [(0,), (1,), (2,)]


async def test_two_worker_processes_write_what_one_replay_writes(
    engines: tuple[AsyncEngine, AsyncEngine], sla: Sla
) -> None:
    serial_engine, parallel_engine = engines
    groups, split = grouped(sla)

    async with BulkStore(serial_engine, CONSUMER) as store:
        replay = Replay(store, sla, CONSUMER, now=NOW)
        await replay.start()
        for group in range(GROUPS):
            for values, own in groups[group]:
                await replay.take(values, own=own)
            await replay.end_group()
        await replay.finish()
    serial = replay.stats

    async with BulkStore(parallel_engine, CONSUMER) as store:
        parallel = await replay_in_parallel(
            store, sla, CONSUMER, range(GROUPS), InMemorySource(groups), workers=2, now=NOW
        )

    events = sum(len(values) for batches in groups.values() for values, _ in batches)
    assert (parallel.events, parallel.facts, parallel.poison, parallel.duplicates) == (events, events, 0, 0)
    assert (serial.events, serial.facts, serial.dossiers, serial.reprojected) == (events, events, DOSSIERS, 1)
    assert (parallel.dossiers, parallel.reprojected) == (DOSSIERS, 1)
    # clock rows written: the split dossier's twice (its first half has its acceptance, the second not)
    assert (serial.clocks, parallel.clocks) == (DOSSIERS + 1, DOSSIERS + 1)
    assert [len(d.codes) for d in parallel.workers] == [61, 60]  # 60 and 59 of their own, and the split one

    for table, sql in TABLES.items():
        theirs = await rows(serial_engine, sql)
        assert theirs, table
        assert await rows(parallel_engine, sql) == theirs, table
    # The split dossier's clock is from all its facts, and each dossier's facts keep their arrival order.
    clocks = {c["dossier_code"]: c for c in await rows(parallel_engine, TABLES["dossier_clock"])}
    assert clocks[split]["state"] in {"resolved", "running", "withdrawn", "returned"}
    assert await rows(parallel_engine, ORDER) == await rows(serial_engine, ORDER)
    ids = [r["id"] for r in await rows(parallel_engine, "SELECT id FROM sla_fact")]
    assert len(set(ids)) == events
