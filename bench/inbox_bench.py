"""Routing's unit inbox on 1,000,000 closed and 100,000 open steps: p99 < 50 ms for a first page.

Creates a fresh routing database (a SQLite file, or with ``--database-url`` a database of its own on
that PostgreSQL server, created and dropped here), runs routing's migrations on it, bulk-loads the
steps (executemany on SQLite, COPY on PostgreSQL) over 300 units with a skew (land offices and the
tax office hold the most) and a route per dossier, starts routing as a real process on it beside the
embedded broker, and measures ``GET /v1/units/{unit}/inbox`` over HTTP for a big, a median and a small
unit: the first page, a deep page (the cursor after walking 20 pages) and ``overdue=true`` — p50/p99 of
sequential requests on one keep-alive connection, and requests/s on 8 connections. Prints the plan of
each inbox query (EXPLAIN QUERY PLAN / EXPLAIN ANALYZE) to show whether it is index-backed.
Writes var/bench/inbox-sqlite.json or var/bench/inbox-postgresql.json.

    .venv/bin/python -m bench.inbox_bench [--database-url postgresql+asyncpg://…]   # the URL's role
    # may CREATE DATABASE; e.g. LIENTHONG_VAR=/work/ci-var bash deploy/postgres/postgres.sh url
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlmodel.sql.expression import Select

from bench.figures import BENCH_DIR, figure, shown, write_figures
from bench.http_load import read_response, run_load
from services.devstack import DEFAULT_PORTS, DevStack, StackConfig, free_port
from services.routing.inbox_api import inbox_query as routing_inbox_query
from services.routing.main import MIGRATIONS
from services.routing.tables import Route, Step
from shared.catalog import default_catalog_dir, load_catalog
from shared.db import create_engine, migrate

P99_LIMIT_MS = 50.0
PAGE = 50  # the inbox's default page size
DEEP_PAGES = 20
SEED = 20_251_123

STEP_COLUMNS = (
    "id",
    "dossier_code",
    "seq",
    "key",
    "name",
    "unit_code",
    "unit_level",
    "budget_minutes",
    "counts",
    "external",
    "status",
    "attempt",
    "assigned_at",
    "accepted_at",
    "deadline_at",
    "paused_at",
    "paused_from",
    "pause_kind",
    "overdue_when_paused",
    "finished_at",
    "outcome",
    "changed_at",
    "updated_at",
    "version",
)
ROUTE_COLUMNS = (
    "dossier_code",
    "procedure_code",
    "procedure_name",
    "receiving_unit_code",
    "map",
    "route_version",
    "status",
    "planned_at",
    "closed_at",
    "outcome",
    "version",
)
STEP_NAMES = (
    ("receive", "Tiếp nhận hồ sơ"),
    ("appraise", "Thẩm định hồ sơ"),
    ("verify", "Xác minh thực địa"),
    ("decide", "Phê duyệt kết quả"),
)
BUDGETS = (240, 480, 960, 2400, 4800)  # working minutes


def say(text: str, end: str = "\n") -> None:
    print(text, end=end, file=sys.stderr, flush=True)


# ---- the data set ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    code: str
    level: str
    open: int
    closed: int


def allocate(total: int, weights: Sequence[float]) -> list[int]:
    """``total`` split in proportion to ``weights`` (largest remainders), summing to ``total`` exactly."""
    scale = total / sum(weights)
    shares = [w * scale for w in weights]
    counts = [int(s) for s in shares]
    by_remainder = sorted(range(len(shares)), key=lambda i: shares[i] - counts[i], reverse=True)
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def make_units(n: int, open_total: int, closed_total: int) -> list[Unit]:
    """``n`` units, biggest first: Zipf weights (1/rank), the land offices and tax office at the top, then
    the catalogue's other units, then synthetic communes. Closed steps follow the same skew."""
    catalog = load_catalog(default_catalog_dir())
    big_levels = ("land_office", "tax", "social_insurance", "police")
    known = sorted(catalog.units(), key=lambda u: big_levels.index(u.level) if u.level in big_levels else 9)
    codes = [(u.code, str(u.level)) for u in known][:n]
    codes += [(f"H56.{200 + i}", "commune") for i in range(n - len(codes))]
    weights = [1 / (rank + 1) for rank in range(n)]
    opens, closeds = allocate(open_total, weights), allocate(closed_total, weights)
    return [Unit(code, level, o, c) for (code, level), o, c in zip(codes, opens, closeds, strict=True)]


Rows = list[tuple[Any, ...]]


class Generator:
    """Routes and steps as the driver takes them. ``stamp`` turns a naive UTC datetime into what the
    driver stores (SQLite: SQLAlchemy's text format; PostgreSQL: an aware datetime)."""

    def __init__(self, stamp: Callable[[datetime], Any], now: datetime) -> None:
        self.stamp = stamp
        self.base = now.astimezone(UTC).replace(tzinfo=None)
        self.rng = random.Random(SEED)
        self.procedures = [(p.code, p.name) for p in load_catalog(default_catalog_dir()).procedures()]
        self.routes: Rows = []
        self.steps: Rows = []

    def take(self) -> tuple[Rows, Rows]:
        taken = self.routes, self.steps
        self.routes, self.steps = [], []
        return taken

    def _id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _maybe(self, at: datetime | None) -> Any:
        return None if at is None else self.stamp(at)

    def open_step(self, code: str, seq: int, unit: Unit) -> datetime:
        """The dossier's open step, handed over in the last 45 days (recent ones weigh more); returns
        when it was assigned."""
        rng, stamp = self.rng, self.stamp
        assigned = self.base - timedelta(seconds=45 * 86_400 * rng.random() ** 2 + rng.random())
        budget = rng.choice(BUDGETS)
        deadline = assigned + timedelta(days=budget / 480 * 1.4)
        roll = rng.random()
        status = "assigned" if roll < 0.4 else "accepted" if roll < 0.9 else "paused_for_citizen"
        accepted = assigned + timedelta(seconds=rng.randrange(60, 7200)) if status != "assigned" else None
        paused = accepted + timedelta(hours=rng.randrange(1, 72)) if accepted and status != "accepted" else None
        changed = paused or accepted or assigned
        key, name = STEP_NAMES[seq - 1]
        self.steps.append(
            (
                *(self._id(), code, seq, key, name, unit.code, unit.level, budget, True, False, status, 1),
                *(stamp(assigned), self._maybe(accepted), stamp(deadline), self._maybe(paused)),
                *("accepted" if paused else None, "supplement" if paused else None),
                *(bool(paused and deadline < paused), None, None, stamp(changed), stamp(changed)),
                2 if accepted else 1,
            )
        )
        return assigned

    def closed_step(self, code: str, seq: int, unit: Unit, before: datetime) -> datetime:
        """A step closed before ``before`` (completed, cancelled, or skipped and never assigned); returns
        when it was assigned."""
        rng, stamp = self.rng, self.stamp
        key, name = STEP_NAMES[seq - 1]
        budget = rng.choice(BUDGETS)
        roll = rng.random()
        if roll < 0.04:
            self.steps.append(
                (
                    *(self._id(), code, seq, key, name, unit.code, unit.level, budget, True, False, "skipped", 0),
                    *(None, None, None, None, None, None, False, stamp(before), None),
                    *(stamp(before), stamp(before), 1),
                )
            )
            return before
        finished = before - timedelta(seconds=rng.randrange(60, 5 * 86_400))
        assigned = finished - timedelta(seconds=rng.randrange(600, 12 * 86_400) + rng.random())
        accepted = assigned + timedelta(seconds=rng.randrange(60, 7200))
        deadline = assigned + timedelta(days=budget / 480 * 1.4)
        status, outcome = ("cancelled", None) if roll < 0.10 else ("completed", "approved")
        self.steps.append(
            (
                *(self._id(), code, seq, key, name, unit.code, unit.level, budget, True, False, status, 1),
                *(stamp(assigned), stamp(accepted), stamp(deadline), None, None, None, False, stamp(finished)),
                *(outcome, stamp(finished), stamp(finished), 3),
            )
        )
        return assigned

    def route(self, code: str, planned: datetime, closed: datetime | None) -> None:
        procedure = self.procedures[self.rng.randrange(len(self.procedures))]
        status, outcome = ("open", None) if closed is None else ("resolved", "approved")
        receiving = f"H56.{101 + self.rng.randrange(3)}"
        self.routes.append(
            (
                *(code, *procedure, receiving, "two_level", "2025.1", status, self.stamp(planned)),
                *(self._maybe(closed), outcome, 1),
            )
        )


def generate(
    units: list[Unit], now: datetime, stamp: Callable[[datetime], Any], batch: int = 20_000
) -> Iterator[tuple[Rows, Rows]]:
    """(routes, steps) in batches. Each open dossier has its one open step after 0-3 closed ones; each
    closed dossier has 4 closed steps. Every step's unit is drawn from the units' shares."""
    rows = Generator(stamp, now)
    open_units = [u for u in units for _ in range(u.open)]
    closed_units = [u for u in units for _ in range(u.closed)]
    rows.rng.shuffle(open_units)
    rows.rng.shuffle(closed_units)
    closed_at = 0
    for n, unit in enumerate(open_units):
        code = f"H56.101-{n // 10_000:02d}{n % 10_000:04d}-O"
        seq = 1 + n % 4
        before = rows.open_step(code, seq, unit)
        for earlier in range(min(seq - 1, len(closed_units) - closed_at), 0, -1):
            before = rows.closed_step(code, earlier, closed_units[closed_at], before)
            closed_at += 1
        rows.route(code, before - timedelta(hours=1), None)
        if len(rows.steps) >= batch:
            yield rows.take()
    n = 0
    while closed_at < len(closed_units):
        code = f"H56.102-{n // 10_000:03d}{n % 10_000:04d}-C"
        closed = rows.base - timedelta(seconds=rows.rng.randrange(86_400, 3 * 365 * 86_400) + rows.rng.random())
        before = closed
        for seq in range(min(4, len(closed_units) - closed_at), 0, -1):
            before = rows.closed_step(code, seq, closed_units[closed_at], before)
            closed_at += 1
        rows.route(code, before - timedelta(hours=1), closed)
        n += 1
        if len(rows.steps) >= batch:
            yield rows.take()
    if rows.steps or rows.routes:
        yield rows.take()


class Progress:
    def __init__(self, total: int) -> None:
        self.total, self.done, self.routes, self.started = total, 0, 0, time.perf_counter()

    def add(self, routes: int, steps: int) -> None:
        self.done += steps
        self.routes += routes
        seconds = time.perf_counter() - self.started
        say(
            f"\r  loading: {self.done:>9,}/{self.total:,} steps ({100 * self.done / self.total:3.0f}%), "
            f"{self.routes:>8,} routes, {self.done / seconds:8,.0f} steps/s",
            end="",
        )

    def finish(self) -> float:
        say("")
        return time.perf_counter() - self.started


def sqlite_stamp(at: datetime) -> str:
    """SQLAlchemy's SQLite DATETIME storage format (UTC, naive, always with microseconds)."""
    return at.isoformat(sep=" ", timespec="microseconds")


def load_sqlite(path: Path, units: list[Unit], now: datetime) -> float:
    progress = Progress(sum(u.open + u.closed for u in units))
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA cache_size=-1000000")
        step_sql = f"INSERT INTO step ({', '.join(STEP_COLUMNS)}) VALUES ({', '.join('?' * len(STEP_COLUMNS))})"
        route_sql = f"INSERT INTO route ({', '.join(ROUTE_COLUMNS)}) VALUES ({', '.join('?' * len(ROUTE_COLUMNS))})"
        for routes, steps in generate(units, now, sqlite_stamp):
            db.execute("BEGIN")
            db.executemany(route_sql, routes)
            db.executemany(step_sql, steps)
            db.execute("COMMIT")
            progress.add(len(routes), len(steps))
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return progress.finish()


async def load_postgresql(url: URL, units: list[Unit], now: datetime) -> float:
    import asyncpg

    progress = Progress(sum(u.open + u.closed for u in units))
    conn = await asyncpg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        for routes, steps in generate(units, now, lambda at: at.replace(tzinfo=UTC)):
            await conn.copy_records_to_table("route", records=routes, columns=ROUTE_COLUMNS, schema_name="routing")
            await conn.copy_records_to_table("step", records=steps, columns=STEP_COLUMNS, schema_name="routing")
            progress.add(len(routes), len(steps))
        seconds = progress.finish()
        # What autovacuum would do within minutes of such a load; done now, so that it does not run
        # in the middle of the measurements.
        say("  VACUUM (ANALYZE) step, route")
        await conn.execute("VACUUM (ANALYZE) routing.step, routing.route")
    finally:
        await conn.close()
    return seconds


# ---- the database: created, migrated, dropped -----------------------------------------------------


async def create_database(admin: URL, name: str) -> URL:
    import asyncpg

    conn = await asyncpg.connect(admin.set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return admin.set(database=name)


async def drop_database(admin: URL, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin.set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def migrate_routing(url: str, drop_indexes: Sequence[str] = ()) -> None:
    """Routing's migrations; then drops ``drop_indexes`` (to measure without them: before and after)."""
    engine = create_engine(url, "routing")
    try:
        await migrate(engine, "routing", MIGRATIONS)
        async with engine.begin() as conn:
            for name in drop_indexes:
                await conn.exec_driver_sql(f'DROP INDEX "{name}"')
    finally:
        await engine.dispose()


# ---- the inbox query and its plan ------------------------------------------------------------------


def inbox_query(
    unit: str, now: datetime, overdue: bool | None, after: tuple[datetime, str] | None
) -> Select[Step, Route]:
    return routing_inbox_query(unit, now, None, overdue, after, PAGE)


async def explain(url: str, queries: dict[str, Select[Step, Route]]) -> dict[str, list[str]]:
    """Each query's plan, of the very statement and parameters the driver is handed."""
    engine = create_engine(url, "routing")
    sent: list[tuple[str, Any]] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    plans: dict[str, list[str]] = {}
    try:
        async with engine.connect() as conn:
            for name, query in queries.items():
                sent.clear()
                await conn.execute(query)
                statement, parameters = sent[-1]
                if engine.dialect.name == "sqlite":
                    result = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
                    rows = result.all()
                    depth = {0: -1}
                    lines = []
                    for row in rows:
                        node, parent, _, detail = tuple(row)
                        depth[node] = depth.get(parent, -1) + 1
                        lines.append("  " * depth[node] + str(detail))
                    plans[name] = lines
                else:
                    result = await conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters)
                    plans[name] = [str(r[0]) for r in result.all()]
    finally:
        await engine.dispose()
    return plans


def index_backed(lines: list[str]) -> bool:
    """Whether the step table is reached through an index (a search), never scanned whole."""
    text = "\n".join(lines)
    if "Seq Scan on step" in text or any(line.strip() == "SCAN step" for line in lines):
        return False
    return "SEARCH step USING" in text or "Index Scan" in text or "Index Only Scan" in text


def sorts(lines: list[str]) -> bool:
    """Whether the unit's matching steps are all read and sorted, rather than read in the index's order
    until the page is full."""
    return any("TEMP B-TREE FOR ORDER BY" in line or "Sort  (" in line for line in lines)


# ---- HTTP ----------------------------------------------------------------------------------------------


def get_request(port: int, path: str, key: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {key}\r\n\r\n".encode()


class Client:
    """One keep-alive connection, one request at a time."""

    def __init__(self, port: int, key: str) -> None:
        self.port, self.key = port, key
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> Client:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        return self

    async def __aexit__(self, *_: Any) -> None:
        assert self.writer is not None
        self.writer.close()

    async def get(self, path: str) -> tuple[float, dict[str, Any]]:
        assert self.reader is not None and self.writer is not None
        self.writer.write(get_request(self.port, path, self.key))
        sent = time.perf_counter()
        status, body = await read_response(self.reader)
        elapsed = (time.perf_counter() - sent) * 1000
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {body[:300]!r}")
        page: dict[str, Any] = json.loads(body)
        return elapsed, page


def inbox_path(unit: str, cursor: str | None = None, overdue: bool = False) -> str:
    path = f"/v1/units/{quote(unit, safe='')}/inbox?limit={PAGE}"
    if overdue:
        path += "&overdue=true"
    if cursor:
        path += f"&cursor={quote(cursor, safe='')}"
    return path


async def walk(port: int, key: str, unit: str, pages: int) -> tuple[str | None, int, float]:
    """Follow next_cursor ``pages`` times: the deep page's cursor, its number, and the walk's ms."""
    cursor, page, total = None, 1, 0.0
    async with Client(port, key) as client:
        while page <= pages:
            elapsed, body = await client.get(inbox_path(unit, cursor))
            total += elapsed
            if not body["next_cursor"]:
                break
            cursor, page = body["next_cursor"], page + 1
    return cursor, page, total


@dataclass(frozen=True)
class Case:
    unit: Unit
    role: str  # big | median | small
    kind: str  # first | deep | overdue
    path: str
    page: int
    walk_ms: float | None = None


async def sequential(port: int, key: str, path: str, warmup: int, requests: int) -> tuple[list[float], int]:
    async with Client(port, key) as client:
        for _ in range(warmup):
            await client.get(path)
        latencies = []
        items = 0
        for _ in range(requests):
            elapsed, body = await client.get(path)
            latencies.append(elapsed)
            items = len(body["items"])
    return latencies, items


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def measure(case: Case, port: int, key: str, args: argparse.Namespace) -> dict[str, Any]:
    busy = os.getloadavg()[0]  # other work on the machine shows in the tail; recorded beside it
    latencies, items = asyncio.run(sequential(port, key, case.path, args.warmup_requests, args.requests))
    request = get_request(port, case.path, key)
    label = f"{case.role} {case.kind}"

    def show(done: int, seconds: float) -> None:
        rate = done / seconds if seconds else 0.0
        say(f"\r  {label:<16} c={args.concurrency}: {done:>6} answered, {rate:6.0f}/s", end="")

    loaded = asyncio.run(
        run_load("127.0.0.1", port, lambda _: request, args.concurrency, 1.0, args.load_seconds, 200, show)
    )
    say("")
    row = {
        "unit_code": case.unit.code,
        "open_steps": case.unit.open,
        "closed_steps": case.unit.closed,
        "page": case.page,
        "items": items,
        "requests": len(latencies),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "max_ms": round(max(latencies), 2),
        "rate_c8": round(loaded.rate, 1),
        "p99_c8_ms": round(loaded.percentile(99), 2),
        "errors_c8": loaded.errors,
        "loadavg_1m_before": round(busy, 2),
    }
    if case.walk_ms is not None:
        row["walk_ms"] = round(case.walk_ms, 1)
    say(
        f"  {label:<16} {case.unit.code:<12} page {case.page:<3} p50 {row['p50_ms']:6.1f} ms  "
        f"p99 {row['p99_ms']:6.1f} ms  c={args.concurrency} {row['rate_c8']:6.0f}/s"
    )
    return row


# ---- the run -----------------------------------------------------------------------------------------


def pick(units: list[Unit]) -> dict[str, Unit]:
    ranked = sorted(units, key=lambda u: u.open, reverse=True)
    return {"big": ranked[0], "median": ranked[len(ranked) // 2], "small": ranked[-1]}


def run(args: argparse.Namespace, tmp: Path) -> tuple[str, list[dict[str, Any]]]:
    units = make_units(args.units, args.open, args.closed)
    chosen = pick(units)
    now = datetime.now(UTC)
    admin = make_url(args.database_url) if args.database_url else None
    db_name = f"lienthong_inbox_bench_{os.getpid()}"
    database = "postgresql" if admin else "sqlite"
    say(f"inbox on {database}: {args.closed:,} closed and {args.open:,} open steps over {args.units} units")
    for role, unit in chosen.items():
        say(f"  {role:<6} unit {unit.code:<12} {unit.open:>6,} open {unit.closed:>8,} closed")
    url = asyncio.run(create_database(admin, db_name)).render_as_string(hide_password=False) if admin else None
    try:
        if url is None:
            path = tmp / "routing.db"
            url = f"sqlite+aiosqlite:///{path}"
            asyncio.run(migrate_routing(url, args.drop_index))
            load_seconds = load_sqlite(path, units, now)
        else:
            asyncio.run(migrate_routing(url, args.drop_index))
            load_seconds = asyncio.run(load_postgresql(make_url(url), units, now))
        say(f"  loaded in {load_seconds:.1f} s")
        figures = measure_service(args, tmp, url, database, chosen, now)
        figures.append(
            figure(
                f"inbox_load_seconds_{database}",
                load_seconds,
                "s",
                None,
                None,
                closed_steps=args.closed,
                open_steps=args.open,
                units=args.units,
            )
        )
        return database, figures
    finally:
        if admin is not None:
            asyncio.run(drop_database(admin, db_name))


def measure_service(
    args: argparse.Namespace, tmp: Path, url: str, database: str, chosen: dict[str, Unit], now: datetime
) -> list[dict[str, Any]]:
    config = StackConfig(
        var_dir=tmp,
        ports={name: free_port() for name in DEFAULT_PORTS},  # routing's settings name the others' URLs
        broker_port=free_port(),
        database_url=url,
        extra_env={"LIENTHONG_RATE_LIMIT_PER_S": "0", "LIENTHONG_LOG_LEVEL": "WARNING"},
    )
    stack = DevStack(config)
    try:
        stack.start_broker()
        stack.start_service("routing")
        port, key = config.ports["routing"], stack.key("dev-ops")  # the `read` scope: any unit's inbox
        cases: list[Case] = []
        deep_after: dict[str, tuple[datetime, str] | None] = {}
        for role, unit in chosen.items():
            cursor, page, walk_ms = asyncio.run(walk(port, key, unit.code, DEEP_PAGES))
            deep_after[role] = decode(cursor)
            cases += [
                Case(unit, role, "first", inbox_path(unit.code), 1),
                Case(unit, role, "deep", inbox_path(unit.code, cursor), page, walk_ms),
                Case(unit, role, "overdue", inbox_path(unit.code, overdue=True), 1),
            ]
        big = chosen["big"].code
        plans = asyncio.run(
            explain(
                url,
                {
                    "first": inbox_query(big, now, None, None),
                    "deep": inbox_query(big, now, None, deep_after["big"]),
                    "overdue": inbox_query(big, now, True, None),
                },
            )
        )
        for name, lines in plans.items():
            print(f"\nplan of the {name} page of {big} ({database}):")
            print("\n".join(f"  {line}" for line in lines))
        print()
        rows = {(c.role, c.kind): measure(c, port, key, args) for c in cases}
    finally:
        stack.stop()
    figures = []
    for (role, kind), row in rows.items():
        floor = P99_LIMIT_MS if kind == "first" else None
        met = row["p99_ms"] < P99_LIMIT_MS if kind == "first" else None
        figures.append(figure(f"inbox_{kind}_page_p99_{role}_unit_{database}", row["p99_ms"], "ms", floor, met, **row))
    backed = all(index_backed(lines) for lines in plans.values())
    ordered = [name for name, lines in plans.items() if not sorts(lines)]
    figures.append(figure(f"inbox_query_index_backed_{database}", float(backed), "bool", 1.0, backed, plans=plans))
    figures.append(
        figure(
            f"inbox_query_index_ordered_{database}",
            len(ordered),
            "of 3",
            None,
            None,
            ordered_by_index=ordered,
            sorted_after_search=[name for name in plans if name not in ordered],
        )
    )
    return figures


def decode(cursor: str | None) -> tuple[datetime, str] | None:
    from shared.web.cursor import decode_cursor

    return decode_cursor(cursor) if cursor else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="PostgreSQL server (role with CREATEDB); default SQLite")
    parser.add_argument("--closed", type=int, default=1_000_000, help="closed steps")
    parser.add_argument("--open", type=int, default=100_000, help="open steps")
    parser.add_argument("--units", type=int, default=300)
    parser.add_argument("--requests", type=int, default=200, help="sequential requests measured per case")
    parser.add_argument("--warmup-requests", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--load-seconds", type=float, default=4.0, help="measured seconds of the concurrent run")
    parser.add_argument(
        "--drop-index",
        action="append",
        default=[],
        metavar="NAME",
        help="drop this index after migrating, to measure without it (written to inbox-<db>-without-<name>.json)",
    )
    args = parser.parse_args()

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lienthong-inbox-bench-") as tmp:
        database, figures = run(args, Path(tmp))
    stem = "-".join([f"inbox-{database}", *(f"without-{name}" for name in args.drop_index)])
    target = BENCH_DIR / f"{stem}.json"
    write_figures(figures, target)
    print(f"{'figure':<44} {'value':>8}  {'unit':<4} {'p50 ms':>7} {'req/s c8':>9}  {'floor':>5}  met")
    for f in figures:
        floor = "" if f["floor"] is None else f"{f['floor']:g}"
        met = "" if f["floor_met"] is None else ("yes" if f["floor_met"] else "NO")
        p50 = f"{f['p50_ms']:.1f}" if "p50_ms" in f else ""
        rate = f"{f['rate_c8']:.0f}" if "rate_c8" in f else ""
        print(f"{f['name']:<44} {f['value']:>8.1f}  {f['unit']:<4} {p50:>7} {rate:>9}  {floor:>5}  {met}")
    print(f"written to {shown(target)} ({time.perf_counter() - started:.0f} s in all)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
