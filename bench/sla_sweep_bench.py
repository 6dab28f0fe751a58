"""sla's timer sweep on 1,000,000 open dossiers with 1,000 timers due: one sweep under 100 ms.

Creates a fresh sla database (a SQLite file, or with ``--database-url`` a database of its own on that
PostgreSQL server, created and dropped here) and runs sla's migrations on it. ``--due`` dossiers (1,000)
get a real history (acceptance, route, steps, a supplement) fed through sla's own handlers, which write
their facts, clock rows and timers; each is on its second step, whose warning (step.due_soon) is the one
timer due at the sweep instant. The other open dossiers (999,000) get timers only, bulk-loaded
(executemany on SQLite, COPY on PostgreSQL): about 4 pending each (step and dossier warnings and overdue
flags, some apologies) due over the next 30 days, and fired ones of earlier steps, before the instant,
that the partial index ix_sla_timer_due leaves out.

Measures ``Sweeper.due`` alone (the index read of the due ids) and one full ``Sweeper.sweep`` that fires
the 1,000 (one transaction: claimed and marked fired in one statement, their events, kept on the timer
rows, put in the outbox in one insert), ``--runs`` times with the fired timers and their outbox rows put
back between runs; checks every run fired exactly the due timers and emitted one event each. Prints the
plan of the due query (EXPLAIN QUERY PLAN / EXPLAIN ANALYZE). ``--profile`` adds one sweep under
cProfile. Writes var/bench/sla-sweep-sqlite.json or var/bench/sla-sweep-postgresql.json.

    .venv/bin/python -m bench.sla_sweep_bench [--database-url postgresql+asyncpg://…]   # the URL's role
    # may CREATE DATABASE; e.g. LIENTHONG_VAR=/work/ci-var bash deploy/postgres/postgres.sh url
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.figures import BENCH_DIR, figure, shown, write_figures
from bench.inbox_bench import create_database, drop_database, say, sqlite_stamp
from services.sla.context import Sla
from services.sla.handlers import build_handlers
from services.sla.main import MIGRATIONS
from services.sla.settings import SlaSettings
from services.sla.sweep import Sweeper
from services.sla.timers import APOLOGY, DOSSIER_DUE_SOON, DOSSIER_OVERDUE, STEP_DUE_SOON, STEP_OVERDUE
from shared.bus.unit_of_work import UnitOfWorkFactory
from shared.calendar import vietnam_calendar
from shared.db import create_engine, is_sqlite, migrate, session_maker
from shared.events import new_envelope
from tests.support.sla_history import History, PlanStep, vn

SWEEP_LIMIT_MS = 100.0
SEED = 20_260_311
DUE_QUERY_REPEATS = 20
FEED_CONCURRENCY = 8
LOAD_BATCH = 200_000  # timer rows per transaction (SQLite) or COPY (PostgreSQL)

# The dossiers with a history: accepted on Monday 9 March 2026 between 08:00 and 10:59, each is on its
# second step from Tuesday (budget 2 working days), whose warning falls due one working day before its
# deadline, on Wednesday; the step's overdue flag (Thursday) and the dossier's timers (10 working days)
# come later.
MONDAY = vn(2026, 3, 9, 8)
CALENDAR = vietnam_calendar()
RECEIVE = PlanStep("H56.101", "commune", 480, name="Tiếp nhận, thẩm định hồ sơ")
APPRAISE = PlanStep("H56.10", "district", 960, name="Thẩm định, trình ký")
DECIDE = PlanStep("H56.10", "district", 480, name="Phê duyệt kết quả")
TIMER_COLUMNS = ("dossier_code", "key", "kind", "due_at", "fired_at")

Rows = list[tuple[Any, ...]]


def history(code: str, n: int) -> History:
    """Nine facts: accepted, routed, step 1 assigned and taken, a supplement asked and given, step 1
    completed the same day (before its own warning) and step 2 assigned and taken."""
    at = MONDAY + timedelta(minutes=n % 180)
    tuesday = at + timedelta(hours=3, minutes=30)
    appointment = CALENDAR.add_working_days(at, 10)  # as intake issues it
    h = History(code=code).accepted(at, appointment, days=10).planned(at, RECEIVE, APPRAISE, DECIDE).assigned(1, at)
    h.step_accepted(1, at + timedelta(minutes=20))
    h.supplement(at + timedelta(hours=1), "H56.101").supplemented(at + timedelta(hours=3))
    h.completed(1, tuesday, at).assigned(2, tuesday, 1).step_accepted(2, tuesday + timedelta(minutes=20))
    return h


def real_code(n: int) -> str:
    return f"H56.101-260309-{n:06d}"


def filler_code(n: int) -> str:
    return f"H56.{102 + n % 3}-26{1 + n // 100_000 % 12:02d}{1 + n % 28:02d}-{n:07d}"


# ---- the data set ----------------------------------------------------------------------------------


def filler_timers(count: int, sweep_at: datetime, stamp: Callable[[datetime], Any]) -> Iterator[tuple[int, Rows]]:
    """The timer rows of ``count`` open dossiers without history, in batches (with the number of dossiers
    they are of). Pending ones are due after
    ``sweep_at`` (up to ~30 days); fired ones (a warning already sent, an earlier step's timers) before it."""
    rng = random.Random(SEED)
    base = sweep_at.astimezone(UTC).replace(tzinfo=None)
    day = timedelta(days=1)
    rows: Rows = []
    dossiers = 0

    def ref() -> str:
        return f"{uuid.UUID(int=rng.getrandbits(128), version=4)}:1"

    def fired(at: datetime) -> Any:
        return stamp(min(at + timedelta(seconds=rng.uniform(0.0, 15.0)), base))  # within a sweep interval

    for n in range(count):
        code = filler_code(n)
        step = ref()
        overdue = base + timedelta(seconds=60 + rng.random() * 20 * 86_400)
        soon = overdue - day
        rows.append(
            (code, f"{STEP_DUE_SOON}|{step}", STEP_DUE_SOON, stamp(soon), fired(soon) if soon <= base else None)
        )
        rows.append((code, f"{STEP_OVERDUE}|{step}", STEP_OVERDUE, stamp(overdue), None))
        dossier_soon = overdue + timedelta(seconds=rng.random() * 8 * 86_400)
        rows.append((code, f"{DOSSIER_DUE_SOON}|0", DOSSIER_DUE_SOON, stamp(dossier_soon), None))
        rows.append((code, f"{DOSSIER_OVERDUE}|0", DOSSIER_OVERDUE, stamp(dossier_soon + timedelta(hours=3)), None))
        if rng.random() < 0.1:
            rows.append((code, f"{APOLOGY}|0", APOLOGY, stamp(overdue + timedelta(minutes=1)), None))
        if rng.random() < 0.5:  # on a later step: the earlier one's warning went out, and maybe its flag
            earlier = ref()
            warned = base - timedelta(seconds=3600 + rng.random() * 20 * 86_400)
            rows.append((code, f"{STEP_DUE_SOON}|{earlier}", STEP_DUE_SOON, stamp(warned), fired(warned)))
            if rng.random() < 0.3 and warned + day < base:
                flagged = warned + day
                rows.append((code, f"{STEP_OVERDUE}|{earlier}", STEP_OVERDUE, stamp(flagged), fired(flagged)))
        dossiers += 1
        if len(rows) >= LOAD_BATCH:
            yield dossiers, rows
            rows, dossiers = [], 0
    if rows:
        yield dossiers, rows


class Progress:
    def __init__(self, label: str, total: int, unit: str) -> None:
        self.label, self.total, self.unit = label, total, unit
        self.done, self.rows, self.started, self.shown = 0, 0, time.perf_counter(), 0.0

    def add(self, done: int, rows: int = 0) -> None:
        self.done += done
        self.rows += rows
        now = time.perf_counter()
        if now - self.shown < 0.2 and self.done < self.total:
            return
        self.shown, seconds = now, now - self.started
        rate = (self.rows or self.done) / seconds if seconds else 0.0
        rows_part = f", {self.rows:>10,} rows" if self.rows else ""
        say(
            f"\r  {self.label}: {self.done:>9,}/{self.total:,} {self.unit} ({100 * self.done / self.total:3.0f}%)"
            f"{rows_part}, {rate:9,.0f} {'rows' if self.rows else self.unit}/s",
            end="",
        )

    def finish(self) -> float:
        say("")
        return time.perf_counter() - self.started


def load_sqlite(path: Path, count: int, sweep_at: datetime) -> tuple[float, int]:
    progress = Progress("timers of the other dossiers", count, "dossiers")
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA synchronous=OFF")  # the bench's own file: a crash only loses the bench
        db.execute("PRAGMA cache_size=-1000000")
        sql = f"INSERT INTO sla_timer ({', '.join(TIMER_COLUMNS)}) VALUES ({', '.join('?' * len(TIMER_COLUMNS))})"
        for dossiers, rows in filler_timers(count, sweep_at, sqlite_stamp):
            db.execute("BEGIN")
            db.executemany(sql, rows)
            db.execute("COMMIT")
            progress.add(dossiers, len(rows))
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return progress.finish(), progress.rows


async def load_postgresql(url: URL, count: int, sweep_at: datetime) -> tuple[float, int]:
    import asyncpg

    progress = Progress("timers of the other dossiers", count, "dossiers")
    conn = await asyncpg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        for dossiers, rows in filler_timers(count, sweep_at, lambda at: at.replace(tzinfo=UTC)):
            await conn.copy_records_to_table("sla_timer", records=rows, columns=TIMER_COLUMNS, schema_name="sla")
            progress.add(dossiers, len(rows))
        seconds = progress.finish()
        # What autovacuum would do within minutes of such a load; done now, so that it does not run
        # in the middle of the measurements.
        say("  VACUUM (ANALYZE) sla_timer, sla_fact, dossier_clock, step_clock, outbox")
        await conn.execute("VACUUM (ANALYZE) sla.sla_timer, sla.sla_fact, sla.dossier_clock, sla.step_clock")
        await conn.execute("VACUUM (ANALYZE) sla.outbox")
    finally:
        await conn.close()
    return seconds, progress.rows


async def feed(units: UnitOfWorkFactory, sla: Sla, count: int) -> tuple[float, int]:
    """The real dossiers' histories through sla's handlers, a few dossiers at a time (each in order)."""
    handlers = build_handlers(sla)
    progress = Progress("histories through the handlers", count, "dossiers")
    facts = 0
    gate = asyncio.Semaphore(FEED_CONCURRENCY)

    async def one(n: int) -> None:
        nonlocal facts
        h = history(real_code(n), n)
        async with gate:
            for fact in h.facts:
                registration = handlers.get(fact.type)
                assert registration is not None, fact.type
                envelope = new_envelope(
                    type=fact.type,
                    dossier_code=h.code,
                    producer="bench",
                    occurred_at=fact.occurred_at,
                    payload=fact.payload,
                )
                async with units() as uow:
                    await registration.handler(uow, envelope, fact.payload)
        facts += len(h.facts)
        progress.add(1, 0)

    await asyncio.gather(*(one(n) for n in range(count)))
    return progress.finish(), facts


# ---- the database: created, migrated, loaded --------------------------------------------------------


async def scalar(engine: AsyncEngine, sql: str, **params: Any) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar()


async def sweep_instant(engine: AsyncEngine, count: int) -> datetime:
    """The latest of the real dossiers' step warnings: the instant at which all of them, and no other of
    their timers, are due. Checked here, before the other dossiers' timers are loaded."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(text("SELECT dossier_code, kind, due_at FROM sla_timer WHERE fired_at IS NULL"))
        ).all()
    warnings = [as_utc(r[2]) for r in rows if r[1] == STEP_DUE_SOON]
    if len(warnings) != count or len({r[0] for r in rows if r[1] == STEP_DUE_SOON}) != count:
        raise RuntimeError(f"expected one step warning per dossier with a history, found {len(warnings)}")
    at = max(warnings)
    others = [r for r in rows if r[1] != STEP_DUE_SOON and as_utc(r[2]) <= at]
    if others:
        raise RuntimeError(f"{len(others)} other timers of those dossiers are due by {at}: {others[:3]}")
    return at


def as_utc(value: Any) -> datetime:
    """A raw timestamp column (text on SQLite, aware on PostgreSQL) as an aware UTC datetime."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(moment, datetime)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def prepare(url: str, sla: Sla, due: int) -> tuple[datetime, float, int]:
    """Migrated, and the real dossiers fed: the sweep instant, the seconds feeding took, facts fed."""
    engine = create_engine(url, "sla")
    try:
        await migrate(engine, "sla", MIGRATIONS)
        seconds, facts = await feed(UnitOfWorkFactory(session_maker(engine)), sla, due)
        return await sweep_instant(engine, due), seconds, facts
    finally:
        await engine.dispose()


# ---- measuring ----------------------------------------------------------------------------------------


async def explain(engine: AsyncEngine, sweeper: Sweeper, at: datetime) -> list[str]:
    """The plan of the very statement and parameters ``Sweeper.due`` hands the driver."""
    sent: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        await sweeper.due(at)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    statement, parameters = next((s, p) for s, p in sent if "sla_timer" in s)
    async with engine.connect() as conn:
        if is_sqlite(engine):
            rows = (await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)).all()
            depth = {0: -1}
            lines = []
            for row in rows:
                node, parent, _, detail = tuple(row)
                depth[node] = depth.get(parent, -1) + 1
                lines.append("  " * depth[node] + str(detail))
            return [statement.replace("\n", " "), *lines]
        result = await conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters)
        return [statement.replace("\n", " "), *(str(r[0]) for r in result.all())]


def uses_due_index(lines: list[str]) -> bool:
    text_ = "\n".join(lines[1:])
    return "ix_sla_timer_due" in text_ and "Seq Scan" not in text_ and "SCAN sla_timer" not in text_


async def outbox_mark(engine: AsyncEngine) -> int:
    return int(await scalar(engine, "SELECT coalesce(max(id), 0) FROM outbox"))


async def check(engine: AsyncEngine, ids: list[int], mark: int) -> dict[str, int]:
    """After a sweep: how many of the due timers are marked fired, how many events it put in the outbox
    (of which kind, on how many dossiers), and how many timers are still due."""
    async with engine.connect() as conn:
        marked = (
            await conn.execute(
                text("SELECT count(*) FROM sla_timer WHERE id IN :ids AND fired_at IS NOT NULL").bindparams(
                    bindparam("ids", expanding=True)
                ),
                {"ids": ids},
            )
        ).scalar_one()
        events, dossiers, warnings = (
            await conn.execute(
                text(
                    "SELECT count(*), count(DISTINCT key), count(*) FILTER (WHERE event_type = :kind) "
                    "FROM outbox WHERE id > :mark"
                ),
                {"mark": mark, "kind": STEP_DUE_SOON},
            )
        ).one()
    return {"marked": marked, "events": events, "event_dossiers": dossiers, "step_warnings": warnings}


async def reset(engine: AsyncEngine, ids: list[int], mark: int) -> None:
    """The fired timers pending again, the sweep's outbox rows gone: the next run fires the same ones."""
    async with engine.begin() as conn:
        for start in range(0, len(ids), 5000):
            await conn.execute(
                text("UPDATE sla_timer SET fired_at = NULL WHERE id IN :ids").bindparams(
                    bindparam("ids", expanding=True)
                ),
                {"ids": ids[start : start + 5000]},
            )
        await conn.execute(text("DELETE FROM outbox WHERE id > :mark"), {"mark": mark})


async def measure(url: str, sla: Sla, at: datetime, due: int, runs: int, profile: bool) -> dict[str, Any]:
    engine = create_engine(url, "sla")
    units = UnitOfWorkFactory(session_maker(engine))
    sweeper = Sweeper(units, sla, batch=max(1000, due), interval_s=1.0, skip_locked=not is_sqlite(engine))
    try:
        ids = await sweeper.due(at)
        if len(ids) != due:
            raise RuntimeError(f"{len(ids)} timers due at {at}, expected {due}")
        plan = await explain(engine, sweeper, at)
        mark = await outbox_mark(engine)
        busy = os.getloadavg()[0]  # other work on the machine shows in the figures; recorded beside them
        due_ms: list[float] = []
        sweep_ms: list[float] = []
        checks: list[dict[str, int]] = []
        for run in range(runs):
            for _ in range(DUE_QUERY_REPEATS):
                started = time.perf_counter()
                found = await sweeper.due(at)
                due_ms.append((time.perf_counter() - started) * 1000)
            assert len(found) == due
            started = time.perf_counter()
            fired = await sweeper.sweep(at)
            elapsed = (time.perf_counter() - started) * 1000
            sweep_ms.append(elapsed)
            result = {"fired": fired, **await check(engine, ids, mark), "left": len(await sweeper.due(at))}
            checks.append(result)
            ok = result == {
                "fired": due,
                "marked": due,
                "events": due,
                "event_dossiers": due,
                "step_warnings": due,
                "left": 0,
            }
            due_median = statistics.median(due_ms[-DUE_QUERY_REPEATS:])
            say(
                f"  sweep {run + 1}/{runs}: {fired:,} fired in {elapsed:7.1f} ms "
                f"({fired / elapsed * 1000:7,.0f} timers/s), due() median {due_median:.2f} ms"
                f"{'' if ok else f'  CHECK FAILED {result}'}"
            )
            if not ok:
                raise RuntimeError(f"sweep {run + 1} left {result}, expected {due} of each and 0 left")
            await reset(engine, ids, mark)
        profile_text = await profiled_sweep(sweeper, engine, ids, mark, at) if profile else None
    finally:
        await engine.dispose()
    return {
        "plan": plan,
        "due_ms": due_ms,
        "sweep_ms": sweep_ms,
        "checks": checks,
        "profile": profile_text,
        "loadavg_1m_before": round(busy, 2),
        "batch": max(1000, due),
    }


async def profiled_sweep(sweeper: Sweeper, engine: AsyncEngine, ids: list[int], mark: int, at: datetime) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    started = time.perf_counter()
    fired = await sweeper.sweep(at)
    elapsed = (time.perf_counter() - started) * 1000
    profiler.disable()
    await reset(engine, ids, mark)
    out = io.StringIO()
    out.write(f"one sweep under cProfile: {fired} fired in {elapsed:.0f} ms\n")
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(45)
    return out.getvalue()


# ---- the run ---------------------------------------------------------------------------------------------


def spread(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
        "spread": round(max(values) - min(values), 3),
    }


def run(args: argparse.Namespace, tmp: Path) -> tuple[str, list[dict[str, Any]], str | None]:
    sla = Sla.load(SlaSettings.load())
    admin = make_url(args.database_url) if args.database_url else None
    database = "postgresql" if admin else "sqlite"
    fillers = args.dossiers - args.due
    db_name = f"lienthong_sla_sweep_bench_{os.getpid()}"
    say(f"sla sweep on {database}: {args.dossiers:,} open dossiers, {args.due:,} of them with a timer due")
    url = asyncio.run(create_database(admin, db_name)).render_as_string(hide_password=False) if admin else None
    try:
        path = tmp / "sla.db"
        url = url or f"sqlite+aiosqlite:///{path}"
        at, feed_seconds, facts = asyncio.run(prepare(url, sla, args.due))
        say(f"  {args.due:,} histories ({facts:,} facts) fed in {feed_seconds:.1f} s; sweep instant {at.isoformat()}")
        if admin is None:
            load_seconds, rows = load_sqlite(path, fillers, at)
        else:
            load_seconds, rows = asyncio.run(load_postgresql(make_url(url), fillers, at))
        say(f"  {rows:,} timer rows loaded in {load_seconds:.1f} s ({rows / load_seconds:,.0f} rows/s)")
        found = asyncio.run(measure(url, sla, at, args.due, args.runs, args.profile))
        counts = asyncio.run(table_counts(url))
    finally:
        if admin is not None:
            asyncio.run(drop_database(admin, db_name))
    plan: list[str] = found["plan"]
    print(f"\nplan of Sweeper.due ({database}):")
    print("\n".join(f"  {line}" for line in plan))
    print()
    sweep_ms, due_ms = spread(found["sweep_ms"]), spread(found["due_ms"])
    rates = [args.due / ms * 1000 for ms in found["sweep_ms"]]
    shape = {"dossiers": args.dossiers, "due": args.due, **counts}
    backed = uses_due_index(plan)
    figures = [
        figure(
            f"sla_sweep_ms_{database}",
            sweep_ms["median"],
            "ms",
            SWEEP_LIMIT_MS,
            sweep_ms["median"] < SWEEP_LIMIT_MS,
            runs_ms=[round(v, 2) for v in found["sweep_ms"]],
            **{f"{k}_ms": v for k, v in sweep_ms.items() if k != "median"},
            per_timer_ms=round(sweep_ms["median"] / args.due, 3),
            sweeper_batch=found["batch"],
            loadavg_1m_before=found["loadavg_1m_before"],
            checks=found["checks"],
            **shape,
        ),
        figure(
            f"sla_sweep_timers_per_second_{database}",
            statistics.median(rates),
            "timers/s",
            None,
            None,
            min_per_s=round(min(rates)),
            max_per_s=round(max(rates)),
        ),
        figure(
            f"sla_due_query_ms_{database}",
            due_ms["median"],
            "ms",
            None,
            None,
            **{f"{k}_ms": v for k, v in due_ms.items() if k != "median"},
            queries=len(found["due_ms"]),
            ids=args.due,
        ),
        figure(f"sla_due_query_index_backed_{database}", float(backed), "bool", 1.0, backed, plan=plan),
        figure(
            f"sla_sweep_load_seconds_{database}",
            load_seconds,
            "s",
            None,
            None,
            timer_rows=rows,
            rows_per_s=round(rows / load_seconds),
            feed_seconds=round(feed_seconds, 1),
            facts_fed=facts,
        ),
    ]
    return database, figures, found["profile"]


async def table_counts(url: str) -> dict[str, int]:
    engine = create_engine(url, "sla")
    try:
        pending = await scalar(engine, "SELECT count(*) FROM sla_timer WHERE fired_at IS NULL")
        total = await scalar(engine, "SELECT count(*) FROM sla_timer")
        facts = await scalar(engine, "SELECT count(*) FROM sla_fact")
    finally:
        await engine.dispose()
    return {"pending_timers": int(pending), "fired_timers": int(total - pending), "facts": int(facts)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database-url", default=None, help="PostgreSQL server (role with CREATEDB); default SQLite")
    parser.add_argument("--dossiers", type=int, default=1_000_000, help="open dossiers, those due among them")
    parser.add_argument("--due", type=int, default=1_000, help="dossiers with a history and one timer due")
    parser.add_argument("--runs", type=int, default=5, help="sweeps measured (median and spread)")
    parser.add_argument("--profile", action="store_true", help="one more sweep under cProfile, printed")
    args = parser.parse_args()
    if not 0 < args.due <= args.dossiers:
        parser.error("--due must be between 1 and --dossiers")

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lienthong-sla-sweep-bench-") as tmp:
        database, figures, profile = run(args, Path(tmp))
    if profile:
        print(profile)
    target = BENCH_DIR / f"sla-sweep-{database}.json"
    write_figures(figures, target)
    print(f"{'figure':<42} {'value':>10}  {'unit':<8} {'min':>8} {'max':>8}  {'floor':>5}  met")
    for f in figures:
        floor = "" if f["floor"] is None else f"{f['floor']:g}"
        met = "" if f["floor_met"] is None else ("yes" if f["floor_met"] else "NO")
        low = f.get("min_ms", f.get("min_per_s", ""))
        high = f.get("max_ms", f.get("max_per_s", ""))
        print(f"{f['name']:<42} {f['value']:>10.2f}  {f['unit']:<8} {low!s:>8} {high!s:>8}  {floor:>5}  {met}")
    print(f"written to {shown(target)} ({time.perf_counter() - started:.0f} s in all)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
