"""sla's rebuild from the event history: 2,000,000 dossiers' events (about 30 million) replayed in under
10 minutes.

The history is seeded and realistic (tests/support/sla_generated.py): acceptance, route planned (2–5
steps, some not counted), each step assigned, taken and completed (some late, some sent back), handovers
to the land software unacknowledged or failed, supplements and payments, resolutions and results returned,
withdrawals, dossiers still in progress; about 15 events a dossier. Building that many histories with the
event models costs ~0.5 ms a dossier, so ``--templates`` distinct histories (20,000) are built and each
dossier is one of them under its own code, step ids and event ids (the bytes on the wire differ, so every
event is decoded, recorded and projected on its own; nothing is cached between copies).

Two measurements, clearly apart:

1. **Full count, history in memory** (``--dossiers``, 2,000,000): the events' bytes are handed to the
   rebuild (``services.sla.rebuild_replay.Replay``) group by group (12 groups, as the 12 partitions of
   the topics) exactly as the Kafka reader hands it the keys and values it fetched: every message decoded and
   validated as sla's consumer does, facts and inbox rows written in bulk, each dossier projected once,
   clock, step and timer rows written in bulk. Generating a group's bytes is outside the timing; the
   broker's part is not in it. With ``--workers N`` (2 by default, as the machine has 2 cores) the groups
   are shared out to N worker processes (``services.sla.rebuild_parallel``), each making its groups' bytes
   a batch at a time and timing that apart: the wall time is the slowest worker's without its generation
   plus what the parent does before and after; the CPU seconds are the parent's and the workers' without
   generation (both with generation are in the figure too). ``--workers 1``: one process, as before.
   The embedded broker keeps everything in memory and takes ~50,000 events/s from one producer, so 30
   million events (~18 GB) are not put on it.
2. **From the broker** (``--broker-dossiers``, 100,000): the same kind of history produced onto the
   embedded broker (started here, or ``--bootstrap``), then ``Rebuilder.run`` end to end: fetch from the
   first offsets, decode, write, project, and the consumer group's offsets committed. Its events/s, with
   the fetch share, shows what the broker adds to (1).

Writes var/bench/sla-rebuild-sqlite.json (or -postgresql with ``--database-url``, a role that may
CREATE DATABASE). ``--profile`` runs the in-memory rebuild of a smaller count under pyinstrument and
prints the report.

    .venv/bin/python -m bench.sla_rebuild_bench [--dossiers 2000000] [--broker-dossiers 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy.engine import make_url

from bench.figures import BENCH_DIR, figure, save_figures
from bench.inbox_bench import create_database, drop_database, say
from services.sla.context import Sla
from services.sla.main import MIGRATIONS
from services.sla.rebuild import CONSUMER, TOPICS, Rebuilder
from services.sla.rebuild_parallel import Batch, replay_in_parallel
from services.sla.rebuild_replay import Message, RebuildStats, Replay, paused_gc
from services.sla.rebuild_store import BulkStore
from services.sla.settings import SlaSettings
from shared.bus.kafka import KafkaSettings, ensure_topics
from shared.db import create_engine, migrate
from tests.support.sla_generated import envelopes, histories
from tests.support.sla_history import vn

LIMIT_S = 600.0
FULL = 2_000_000
"""The figure's count: with fewer ``--dossiers`` the floor is judged on the linear extrapolation."""
SEED = 20_261_203
GROUPS = 12
TAKE = 20_000
FIRST_DAY = vn(2026, 6, 1, 7)
DAYS = 120  # accepted over the 120 working days before December 2026: most finished, some in progress

Template = list[tuple[str, list[str]]]
"""A history's events: the topic and the value's pieces, split at the code, step ids and event id."""


# ---- the history --------------------------------------------------------------------------------------


def templates(count: int, sla: Sla) -> tuple[list[Template], float]:
    """``count`` distinct histories as value templates; and their events per dossier."""
    rng = random.Random(SEED)
    stamp = datetime.now(UTC)
    found: list[Template] = []
    events = 0
    for h in histories(count, SEED, sla.calendar, FIRST_DAY, DAYS):
        marks = {h.code: "\x00C\x00", **{str(s): f"\x00S{i}\x00" for i, s in enumerate(h.step_ids)}}
        template: Template = []
        for e in envelopes(h, rng, stamp):
            text = e.value.decode()
            event_id = json.loads(text)["event_id"]
            text = text.replace(event_id, "\x00E\x00")
            for value, mark in marks.items():
                text = text.replace(value, mark)
            template.append((e.topic, text.split("\x00")))
        found.append(template)
        events += len(template)
    return found, events / max(1, count)


def dossier(n: int, template: Template) -> Iterator[tuple[str, bytes, bytes]]:
    """Dossier ``n``'s events (topic, key, value) from its template: its own code, step ids, event ids."""
    code = ""
    for k, (topic, pieces) in enumerate(template):
        out = []
        for i, piece in enumerate(pieces):
            if i % 2 == 0:
                out.append(piece)
            elif piece == "C":
                code = code or f"H56.{101 + n % 7}-2606{n % 28 + 1:02d}-{n:08d}"
                out.append(code)
            elif piece == "E":
                out.append(f"{n:08x}-{k:04x}-4000-8000-000000000001")
            else:
                out.append(f"{n:08x}-{int(piece[1:]):04x}-4000-8000-000000000002")
        yield topic, code.encode(), "".join(out).encode()


def group_messages(group: int, count: int, pool: list[Template]) -> list[Message]:
    return [(k, v) for n in range(group, count, GROUPS) for _, k, v in dossier(n, pool[n % len(pool)])]


Compiled = list[tuple[str, tuple[str, ...]]]
"""A template's values as %-formats and the marks that fill them: ``dossier``'s bytes, made faster."""


def compiled(template: Template) -> Compiled:
    return [("%s".join(p.replace("%", "%%") for p in pieces[::2]), tuple(pieces[1::2])) for _, pieces in template]


def messages_of(n: int, template: Compiled) -> list[Message]:
    """The keys and values ``dossier(n, …)`` gives (the same bytes)."""
    fill = {"C": f"H56.{101 + n % 7}-2606{n % 28 + 1:02d}-{n:08d}"}
    key = fill["C"].encode()
    out: list[Message] = []
    for k, (form, marks) in enumerate(template):
        args = []
        for mark in marks:
            value = fill.get(mark)
            if value is None:
                if mark == "E":
                    value = f"{n:08x}-{k:04x}-4000-8000-000000000001"
                else:
                    value = fill[mark] = f"{n:08x}-{int(mark[1:]):04x}-4000-8000-000000000002"
            args.append(value)
        out.append((key, (form % tuple(args)).encode()))
    return out


@dataclass
class TemplateSource:
    """A group's values made in the worker process that replays it, a batch at a time (the workers time
    it apart, as the serial run leaves generation out)."""

    count: int
    pool: list[Template]
    take: int = TAKE
    _pool: list[Compiled] | None = None

    def _compiled(self) -> list[Compiled]:
        if self._pool is None:
            self._pool = [compiled(t) for t in self.pool]
        return self._pool

    def __call__(self, group: int) -> Iterator[Batch]:
        pool = self._compiled()
        batch: list[Message] = []
        for n in range(group, self.count, GROUPS):
            batch += messages_of(n, pool[n % len(pool)])
            if len(batch) >= self.take:
                yield batch, False
                batch = []
        if batch:
            yield batch, False


# ---- measuring ------------------------------------------------------------------------------------------


class Line:
    """The progress line on stderr: events taken, events/s, dossiers projected."""

    def __init__(self, label: str) -> None:
        self.label, self.shown, self.started = label, 0.0, time.perf_counter()
        self.offset = 0.0

    def __call__(self, stats: RebuildStats) -> None:
        now = time.perf_counter()
        if now - self.shown < 0.5:
            return
        self.shown = now
        busy = now - self.started - self.offset
        say(
            f"\r  {self.label}: {stats.events:>11,} events, {stats.events / busy if busy else 0:8,.0f} events/s, "
            f"{stats.dossiers:>9,} dossiers projected, {busy:5.0f} s",
            end="",
        )


async def in_memory(url: str, sla: Sla, count: int, pool: list[Template]) -> tuple[RebuildStats, float, float]:
    """The full count through ``Replay``; the seconds it took and the CPU seconds of the process in them
    (generation left out)."""
    engine = create_engine(url, "sla")
    line = Line("rebuild (history in memory)")
    seconds = cpu = 0.0
    try:
        with paused_gc():
            await migrate(engine, "sla", MIGRATIONS)
            async with BulkStore(engine, CONSUMER) as store:
                replay = Replay(store, sla, CONSUMER, progress=line)
                await replay.start()
                for group in range(GROUPS):
                    mark = time.perf_counter()
                    messages = group_messages(group, count, pool)
                    line.offset += time.perf_counter() - mark
                    mark, cpu_mark = time.perf_counter(), time.process_time()
                    for start in range(0, len(messages), TAKE):
                        await replay.take(messages[start : start + TAKE])
                    del messages
                    await replay.end_group()
                    await replay.written()
                    seconds += time.perf_counter() - mark
                    cpu += time.process_time() - cpu_mark
                mark, cpu_mark = time.perf_counter(), time.process_time()
                await replay.finish()
                seconds += time.perf_counter() - mark
                cpu += time.process_time() - cpu_mark
                replay.stats.seconds = seconds
    finally:
        await engine.dispose()
    say("")
    return replay.stats, seconds, cpu


async def in_memory_parallel(
    url: str, sla: Sla, count: int, pool: list[Template], workers: int
) -> tuple[RebuildStats, float, float, dict[str, Any]]:
    """The full count through ``replay_in_parallel``: each worker makes its groups' values itself, and its
    seconds and CPU seconds in that are left out (the wall time: the slowest worker's without it, plus what
    the parent does before and after). And the figures with generation in."""
    engine = create_engine(url, "sla")
    line = Line(f"rebuild (history in memory, {workers} workers)")
    try:
        await migrate(engine, "sla", MIGRATIONS)
        async with BulkStore(engine, CONSUMER) as store:
            mark, cpu_mark = time.perf_counter(), time.process_time()
            stats = await replay_in_parallel(
                store, sla, CONSUMER, range(GROUPS), TemplateSource(count, pool), workers=workers, progress=line
            )
            elapsed, parent_cpu = time.perf_counter() - mark, time.process_time() - cpu_mark
    finally:
        await engine.dispose()
    say("")
    done = stats.workers
    slowest = max(d.seconds for d in done)
    seconds = elapsed - slowest + max(d.seconds - d.source_seconds for d in done)
    cpu = parent_cpu + sum(d.cpu - d.source_cpu for d in done)
    extra = {
        "workers": workers,
        "seconds_with_generation": round(elapsed, 1),
        "cpu_s_with_generation": round(parent_cpu + sum(d.cpu for d in done), 1),
        "per_worker": [
            {
                "seconds": round(d.seconds, 1),
                "generation_s": round(d.source_seconds, 1),
                "cpu_s": round(d.cpu, 1),
                "generation_cpu_s": round(d.source_cpu, 1),
            }
            for d in done
        ],
    }
    stats.seconds = seconds
    return stats, seconds, cpu, extra


async def produce(kafka: KafkaSettings, count: int, pool: list[Template]) -> tuple[int, float]:
    await ensure_topics(kafka, list(TOPICS))
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers, linger_ms=20, max_batch_size=1024 * 1024, acks=1
    )
    await producer.start()
    started = time.perf_counter()
    sent = 0
    try:
        pending = []
        for n in range(count):
            for topic, key, value in dossier(n, pool[n % len(pool)]):
                pending.append(await producer.send(kafka.physical(topic), value, key=key))
                sent += 1
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending = []
                say(f"\r  produced {sent:>10,} events ({sent / (time.perf_counter() - started):,.0f}/s)", end="")
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    say("")
    return sent, time.perf_counter() - started


async def from_broker(url: str, sla: Sla, kafka: KafkaSettings) -> RebuildStats:
    engine = create_engine(url, "sla")
    try:
        await migrate(engine, "sla", MIGRATIONS)
        async with BulkStore(engine, CONSUMER) as store:
            stats = await Rebuilder(store, kafka, sla, progress=Line("rebuild (from the broker)")).run()
    finally:
        await engine.dispose()
    say("")
    return stats


def profiled(url: str, sla: Sla, count: int, pool: list[Template]) -> str:
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.002)
    profiler.start()
    asyncio.run(in_memory(url, sla, count, pool))
    profiler.stop()
    return str(profiler.output_text(unicode=False, color=False, show_all=False))


# ---- the run -------------------------------------------------------------------------------------------


def database(args: argparse.Namespace, tmp: Path, name: str) -> tuple[str, Callable[[], None]]:
    """A fresh database for one measurement: its URL and how to drop it."""
    if not args.database_url:
        return f"sqlite+aiosqlite:///{tmp / name}.db", lambda: None
    admin = make_url(args.database_url)
    db = f"lienthong_sla_rebuild_{name}_{os.getpid()}"
    url = asyncio.run(create_database(admin, db)).render_as_string(hide_password=False)
    return url, lambda: asyncio.run(drop_database(admin, db))


def broker_run(args: argparse.Namespace, tmp: Path, sla: Sla, pool: list[Template]) -> dict[str, Any]:
    from tests.support.infra import new_namespace, start_broker

    broker = None
    bootstrap = args.bootstrap
    if not bootstrap:
        broker = start_broker(tmp)
        bootstrap = broker.bootstrap
    kafka = KafkaSettings(bootstrap_servers=bootstrap, client_id="lienthong-sla-bench", namespace=new_namespace())
    url, drop = database(args, tmp, "broker")
    try:
        say(f"  producing {args.broker_dossiers:,} dossiers' events onto the broker at {bootstrap}")
        sent, produce_s = asyncio.run(produce(kafka, args.broker_dossiers, pool))
        stats = asyncio.run(from_broker(url, sla, kafka))
    finally:
        drop()
        if broker is not None:
            broker.terminate()
    if stats.events != sent or stats.poison:
        raise RuntimeError(f"{sent:,} events produced, {stats.events:,} replayed ({stats.poison} left out)")
    return {"stats": stats, "sent": sent, "produce_s": produce_s}


def run(args: argparse.Namespace, tmp: Path) -> tuple[str, list[dict[str, Any]], str | None]:
    sla = Sla.load(SlaSettings.load())
    kind = "postgresql" if args.database_url else "sqlite"
    mark = time.perf_counter()
    pool, per_dossier = templates(min(args.templates, args.dossiers), sla)
    say(
        f"sla rebuild on {kind}: {len(pool):,} distinct histories ({per_dossier:.1f} events a dossier) built in "
        f"{time.perf_counter() - mark:.0f} s"
    )
    figures: list[dict[str, Any]] = []
    url, drop = database(args, tmp, "memory")
    load = round(os.getloadavg()[0], 2)  # other work on the machine shows in the wall times
    extra: dict[str, Any] = {"workers": 1}
    try:
        if args.workers > 1:
            stats, seconds, cpu, extra = asyncio.run(in_memory_parallel(url, sla, args.dossiers, pool, args.workers))
        else:
            stats, seconds, cpu = asyncio.run(in_memory(url, sla, args.dossiers, pool))
    finally:
        drop()
    if stats.poison or stats.facts != stats.events:
        raise RuntimeError(f"{stats.poison} messages left out, {stats.facts:,} facts of {stats.events:,} events")
    shape = {"dossiers": args.dossiers, "events": stats.events, "distinct_histories": len(pool)}
    source = "history in memory, handed to the rebuild as fetched keys and values (no broker)"
    if args.workers > 1:
        source = (
            f"history in memory, made batch by batch in each of {args.workers} worker processes as they replay "
            "(generation timed apart and left out), no broker"
        )
    full = args.dossiers >= FULL
    scale = FULL / args.dossiers
    figures += [
        figure(
            f"sla_rebuild_seconds_{kind}",
            seconds,
            "s",
            LIMIT_S if full else None,
            seconds < LIMIT_S if full else None,
            source=source,
            phases={k: round(v, 1) for k, v in stats.phases.items()},
            clocks=stats.clocks,
            steps=stats.steps,
            timers=stats.timers,
            cpu_s=round(cpu, 1),
            loadavg_1m_before=load,
            loadavg_1m_after=round(os.getloadavg()[0], 2),
            **extra,
            **shape,
        ),
        figure(
            f"sla_rebuild_cpu_seconds_{kind}",
            cpu,
            "s",
            None,
            None,
            source=source,
            note="CPU seconds of the rebuilding process (all its threads) in the timed part: what the wall time "
            "comes to when the process has a core to itself (the database thread's share overlaps on a second)",
        ),
        figure(f"sla_rebuild_events_per_second_{kind}", stats.events / seconds, "events/s", None, None, source=source),
        figure(
            f"sla_rebuild_dossiers_per_second_{kind}", args.dossiers / seconds, "dossiers/s", None, None, source=source
        ),
    ]
    if not full:
        for name, value in (("seconds", seconds), ("cpu_seconds", cpu)):
            figures.append(
                figure(
                    f"sla_rebuild_{name}_extrapolated_to_{FULL}_{kind}",
                    value * scale,
                    "s",
                    LIMIT_S,
                    value * scale < LIMIT_S,
                    method=f"linear extrapolation from {args.dossiers:,} dossiers (x{scale:g}), not a measurement",
                )
            )
    if args.broker_dossiers:
        found = broker_run(args, tmp, sla, pool)
        b: RebuildStats = found["stats"]
        fetch = b.phases.get("fetch", 0.0)
        figures += [
            figure(
                f"sla_rebuild_from_broker_seconds_{kind}",
                b.seconds,
                "s",
                None,
                None,
                source="embedded broker, Rebuilder.run end to end (offsets committed)",
                dossiers=args.broker_dossiers,
                events=b.events,
                fetch_s=round(fetch, 1),
                phases={k: round(v, 1) for k, v in b.phases.items()},
                produce_s=round(found["produce_s"], 1),
            ),
            figure(
                f"sla_rebuild_from_broker_events_per_second_{kind}",
                b.events_per_s,
                "events/s",
                None,
                None,
                dossiers=args.broker_dossiers,
            ),
            figure(
                f"sla_rebuild_{FULL}_with_broker_fetch_estimate_seconds_{kind}",
                seconds * scale + fetch * stats.events * scale / max(1, b.events),
                "s",
                LIMIT_S,
                seconds * scale + fetch * stats.events * scale / max(1, b.events) < LIMIT_S,
                method=f"estimate: the in-memory seconds (x{scale:g} when fewer dossiers) + the broker run's fetch "
                "seconds scaled to that many events",
            ),
        ]
    report = None
    if args.profile:
        url, drop = database(args, tmp, "profile")
        try:
            report = profiled(url, sla, args.profile, pool)
        finally:
            drop()
    return kind, figures, report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database-url", default=None, help="PostgreSQL server (role with CREATEDB); default SQLite")
    parser.add_argument("--dossiers", type=int, default=2_000_000, help="dossiers rebuilt from a history in memory")
    parser.add_argument(
        "--broker-dossiers", type=int, default=100_000, help="dossiers rebuilt from the broker; 0: none"
    )
    parser.add_argument("--bootstrap", default=None, help="a running broker; default: the embedded one, started here")
    parser.add_argument(
        "--workers", type=int, default=2, help="worker processes replaying the groups (1: one process, as before)"
    )
    parser.add_argument("--templates", type=int, default=20_000, help="distinct histories the dossiers are drawn from")
    parser.add_argument("--profile", type=int, default=0, metavar="DOSSIERS", help="also profile a rebuild of so many")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lienthong-sla-rebuild-bench-") as tmp:
        kind, figures, report = run(args, Path(tmp))
    if report:
        print(report)
    save_figures(figures, BENCH_DIR / f"sla-rebuild-{kind}.json", f" ({time.perf_counter() - started:.0f} s in all)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
