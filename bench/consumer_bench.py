"""sla's consumer on its own: events a second and CPU milliseconds an event, with a transaction per message and
with runs of messages in one transaction (the before and after of the batched consumer).

The events are the seeded, realistic histories of tests/support/sla_generated.py (acceptance, route, steps
assigned, taken and completed, supplements, handovers to the land software, results; about 12 a dossier),
handed to ``ConsumerRunner.process_many`` in polls of 200 records as aiokafka's ``getmany`` hands them: every
message decoded, checked against the inbox, handled by sla's real handlers and committed on a fresh SQLite file
(or with ``--database-url`` a PostgreSQL database created and dropped here). The broker is left out: its share
is in the pipeline bench. Writes var/bench/consumer-sqlite.json (or -postgresql).

    .venv/bin/python -m bench.consumer_bench [--dossiers 300] [--runs 64,1] [--database-url postgresql+asyncpg://…]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka.structs import ConsumerRecord
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench.figures import BENCH_DIR, figure, save_figures
from bench.inbox_bench import create_database, drop_database, say
from services.sla.context import Sla
from services.sla.handlers import build_handlers
from services.sla.main import MIGRATIONS
from services.sla.settings import SlaSettings
from shared.bus.batch import RunLimits
from shared.bus.consumer import ConsumerRunner, RetryPolicy
from shared.bus.kafka import KafkaSettings, partitions_for
from shared.bus.unit_of_work import UnitOfWorkFactory
from shared.db import create_engine, migrate, session_maker
from tests.support.sla_generated import envelopes, histories
from tests.support.sla_history import vn

SEED = 20_261_203
POLL = 200


def records(count: int, sla: Sla) -> list[ConsumerRecord[bytes, bytes]]:
    """The dossiers' events in the order a topic partition keeps them (a dossier's events in order)."""
    rng = random.Random(SEED)
    stamp = datetime.now(UTC)
    out: list[ConsumerRecord[bytes, bytes]] = []
    offsets: dict[tuple[str, int], int] = {}
    for h in histories(count, SEED, sla.calendar, vn(2026, 6, 1, 7), 120):
        key = h.code.encode()
        for e in envelopes(h, rng, stamp):
            partition = zlib.crc32(key) % partitions_for(e.topic)
            offset = offsets[(e.topic, partition)] = offsets.get((e.topic, partition), -1) + 1
            out.append(ConsumerRecord(e.topic, partition, offset, 0, 0, key, e.value, None, len(key), len(e.value), []))
    return out


async def consume(url: str, sla: Sla, batch: list[ConsumerRecord[bytes, bytes]], run: int) -> dict[str, float]:
    engine = create_engine(url, "sla")
    await migrate(engine, "sla", MIGRATIONS)
    units = UnitOfWorkFactory(session_maker(engine))
    runner = ConsumerRunner(
        name="sla",
        topics=[],
        handlers=build_handlers(sla),
        units=units,
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:9", client_id="bench"),
        policy=RetryPolicy(max_attempts=1),
        run_limits=RunLimits(max_messages=run, max_seconds=0.25),
    )
    wall, cpu = time.perf_counter(), time.process_time()
    shown = wall
    for start in range(0, len(batch), POLL):
        await runner.process_many(batch[start : start + POLL])
        if time.perf_counter() - shown > 2:
            shown = time.perf_counter()
            done = start + POLL
            say(f"  runs of {run}: {done:,}/{len(batch):,} events, {done / (shown - wall):,.0f}/s")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    async with units.sessions() as session:
        inbox = (await session.execute(text("SELECT count(*) FROM inbox"))).scalar_one()
        letters = (await session.execute(text("SELECT count(*) FROM dead_letter"))).scalar_one()
    await engine.dispose()
    if inbox != len(batch) or letters:
        raise RuntimeError(f"{inbox} of {len(batch)} events recorded, {letters} dead letters")
    return {"events_per_s": len(batch) / wall, "cpu_ms_per_event": cpu * 1000 / len(batch), "wall_s": wall}


def database(admin_url: str | None, tmp: Path, name: str) -> tuple[str, Callable[[], None]]:
    """A fresh database for one measurement: its URL and how to drop it."""
    if not admin_url:
        return f"sqlite+aiosqlite:///{tmp / name}.db", lambda: None
    admin = make_url(admin_url)
    db = f"lienthong_consumer_bench_{name}_{os.getpid()}"
    url = asyncio.run(create_database(admin, db)).render_as_string(hide_password=False)
    return url, lambda: asyncio.run(drop_database(admin, db))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dossiers", type=int, default=300)
    parser.add_argument("--runs", default="64,1", help="messages a transaction may hold, each measured in turn")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    sla = Sla.load(SlaSettings.load())
    batch = records(args.dossiers, sla)
    kind = "postgresql" if args.database_url else "sqlite"
    say(f"sla's consumer on {kind}: {args.dossiers:,} dossiers, {len(batch):,} events")
    figures: list[dict[str, Any]] = []
    measured: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for run in (int(r) for r in args.runs.split(",")):
            url, drop = database(args.database_url, Path(tmp), f"runs_of_{run}")
            try:
                measured[run] = asyncio.run(consume(url, sla, batch, run))
            finally:
                drop()
            m = measured[run]
            say(f"runs of {run}: {m['events_per_s']:,.0f} events/s, {m['cpu_ms_per_event']:.2f} CPU ms an event")
            figures += [
                figure(f"sla_consumer_events_per_s_{kind}_runs_of_{run}", m["events_per_s"], "events/s", None, None),
                figure(f"sla_consumer_cpu_ms_per_event_{kind}_runs_of_{run}", m["cpu_ms_per_event"], "ms", None, None),
            ]
    if 1 in measured and len(measured) > 1:
        best = max(r for r in measured if r != 1)
        gain = measured[best]["events_per_s"] / measured[1]["events_per_s"]
        figures.append(figure(f"sla_consumer_speedup_{kind}_runs_of_{best}_vs_1", gain, "x", None, None))
    save_figures(figures, BENCH_DIR / f"consumer-{kind}.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
