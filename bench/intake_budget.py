"""Where intake's time for one filing goes: the CPU its event loop's thread spends, layer by layer.

1,000 filings a second on one process leave the event loop 1 ms of CPU for each. In one process, with no
sockets, this measures (``time.thread_time`` of the loop's thread, divided by the filings or statements):

- one SQLAlchemy statement on the service's engine (an INSERT in an open transaction), and for SQLite the
  same INSERT straight through aiosqlite, without SQLAlchemy;
- the filing command alone: ``file_dossier`` in a unit of work, as the endpoint runs it, and the statements
  it sends;
- the whole app: POST /v1/dossiers through every middleware, the key check and the unit of work, driven
  through ASGI by an in-process client; and the bare FastAPI endpoint of ``bench/intake_bench.py`` the same
  way, which is the framework and the client alone.

There is no broker: the outbox relay and the consumer are stopped once the app has started, and the events
stay in the outbox, so publishing is not in these figures. Writes var/bench/intake-budget-<database>.json.

    .venv/bin/python -m bench.intake_budget [--filings 2000] [--database-url postgresql+asyncpg://…]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import httpx
from fastapi import FastAPI
from sqlalchemy import event, text

from bench.bare_app import app as bare_app
from bench.figures import BENCH_DIR, figure, save_figures
from bench.intake_bench import BODY
from services.devstack import SANDBOX_UNIT, dev_keys, free_port
from services.intake.filing import file_dossier
from services.intake.main import create_app
from services.intake.schemas import DossierCreate
from shared.runtime import Runtime
from shared.web.auth import Principal

CONCURRENCY = 8  # requests in flight, as intake_bench's lower levels
BUDGET_MS = 1.0  # 1,000 filings a second on one event loop
SLICES = 10


async def loop_cpu_ms(
    total: int, one: Callable[[], Awaitable[None]], label: str, concurrency: int = CONCURRENCY
) -> tuple[float, float]:
    """Event-loop CPU per call of ``one`` (ms): ``total`` calls from ``concurrency`` tasks after a warm-up, in
    ten slices; the median slice, so a garbage collection in one slice does not move it, and the slices'
    spread."""

    async def worker(n: int) -> None:
        for _ in range(n):
            await one()

    await asyncio.gather(*(worker(20) for _ in range(concurrency)))
    per_task = max(1, total // concurrency // SLICES)
    slices: list[float] = []
    for done in range(1, SLICES + 1):
        started = time.thread_time()
        await asyncio.gather(*(worker(per_task) for _ in range(concurrency)))
        slices.append((time.thread_time() - started) * 1000 / (per_task * concurrency))
        print(f"\r  {label}: {done * per_task * concurrency:>6}/{total}", end="", file=sys.stderr, flush=True)
    print(f"  (slices {min(slices) * 1000:,.0f} to {max(slices) * 1000:,.0f} µs)", file=sys.stderr)
    return statistics.median(slices), max(slices) - min(slices)


async def statement_costs(app: FastAPI, total: int, sqlite_file: Path | None) -> dict[str, float]:
    """One INSERT into a scratch table, in a transaction rolled back at the end (the table with it)."""
    create = text("CREATE TABLE bench_budget (note TEXT)")
    insert = text("INSERT INTO bench_budget (note) VALUES (:note)")
    costs: dict[str, float] = {}
    async with app.state.runtime.sessions() as session, session.begin() as transaction:
        conn = await session.connection()
        await conn.execute(create)

        async def orm_statement() -> None:
            await conn.execute(insert, {"note": "x"})

        costs["statement"], costs["statement_spread"] = await loop_cpu_ms(
            total, orm_statement, "one SQLAlchemy statement", concurrency=1
        )
        await transaction.rollback()
    if sqlite_file is not None:
        async with aiosqlite.connect(sqlite_file) as db:
            await db.execute("BEGIN")
            await db.execute(str(create))

            async def driver_statement() -> None:
                await db.execute("INSERT INTO bench_budget (note) VALUES (?)", ("x",))

            costs["driver_statement"], costs["driver_statement_spread"] = await loop_cpu_ms(
                total, driver_statement, "the same through aiosqlite", concurrency=1
            )
            await db.rollback()
    return costs


async def round_trips(runtime: Runtime, desk: Principal, body: DossierCreate) -> int:
    """The statements one filing sends in its transaction, with its BEGIN and COMMIT."""
    sent: list[str] = []
    async with runtime.units() as uow:
        connection = (await uow.session.connection()).sync_connection

        def count(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            if conn is connection and not statement.startswith("BEGIN"):
                sent.append(statement)

        event.listen(runtime.engine.sync_engine, "before_cursor_execute", count)
        try:
            await file_dossier(uow, runtime.state["filing"], desk, body)
            await uow.session.flush()
        finally:
            event.remove(runtime.engine.sync_engine, "before_cursor_execute", count)
    return len(sent) + 2


async def filing_costs(app: FastAPI, key: str, total: int) -> dict[str, float]:

    runtime = app.state.runtime
    body = DossierCreate.model_validate_json(BODY)
    desk = Principal(key_id="budget", name="bench desk", scopes=frozenset({f"desk:{SANDBOX_UNIT}"}))

    async def command() -> None:
        async with runtime.units() as uow:
            await file_dossier(uow, runtime.state["filing"], desk, body)

    costs: dict[str, float] = {}
    costs["command"], costs["command_spread"] = await loop_cpu_ms(total, command, "the filing command")
    costs["statements"] = float(await round_trips(runtime, desk, body))

    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake") as client:

        async def post() -> None:
            response = await client.post("/v1/dossiers", content=BODY, headers=headers)
            if response.status_code != 201:
                raise RuntimeError(f"filing answered {response.status_code}: {response.text[:300]}")

        costs["app"], costs["app_spread"] = await loop_cpu_ms(total, post, "POST /v1/dossiers through the app")
    return costs


async def bare_cost(total: int) -> tuple[float, float]:

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=bare_app), base_url="http://bare") as client:

        async def post() -> None:
            response = await client.post("/v1/dossiers", content=BODY, headers={"Content-Type": "application/json"})
            if response.status_code != 201:
                raise RuntimeError(f"bare endpoint answered {response.status_code}")

        return await loop_cpu_ms(total, post, "the bare FastAPI endpoint")


async def measure(database_url: str | None, filings: int, workdir: Path) -> dict[str, float]:
    keys = workdir / "keys.json"
    key = str(next(k["key"] for k in dev_keys(keys) if k["name"] == f"dev-desk-{SANDBOX_UNIT}"))
    os.environ.update(
        {
            "LIENTHONG_DATABASE_URL": database_url or f"sqlite+aiosqlite:///{workdir}/{{service}}.db",
            "LIENTHONG_BOOTSTRAP_KEYS_FILE": str(keys),
            "LIENTHONG_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",  # nothing listens
            "LIENTHONG_RATE_LIMIT_PER_S": "0",
            "LIENTHONG_LOG_LEVEL": "ERROR",
        }
    )

    app = create_app()
    logging.getLogger("aiokafka").disabled = True  # its every reconnection to the absent broker
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        # With no broker, the relay and the consumer would retry in the background, on the measured thread.
        runtime.relay.stop()
        if runtime.consumer is not None:
            runtime.consumer.stop()
        costs = await filing_costs(app, key, filings)
        sqlite_file = None if database_url else workdir / "intake.db"
        costs |= await statement_costs(app, filings * 4, sqlite_file)
    costs["bare"], costs["bare_spread"] = await bare_cost(filings * 4)
    return costs


def figures_of(costs: dict[str, float], database: str) -> list[dict[str, Any]]:
    def us(name: str, layer: str, **extra: Any) -> Any:
        spread = round(costs[f"{layer}_spread"] * 1000, 1)
        return figure(
            f"intake_budget_{name}_{database}", costs[layer] * 1000, "µs CPU", None, None, spread=spread, **extra
        )

    rows = [
        us("app_per_filing", "app", ceiling_per_s=round(1000 / costs["app"]), budget_us=BUDGET_MS * 1000),
        us("command_per_filing", "command", statements=int(costs["statements"])),
        us("statement", "statement"),
        us("bare_fastapi_per_request", "bare"),
    ]
    if "driver_statement" in costs:
        rows.insert(3, us("aiosqlite_statement", "driver_statement"))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--filings", type=int, default=2000, help="filings measured per layer")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL; default a fresh SQLite file")
    args = parser.parse_args()
    database = "postgresql" if args.database_url else "sqlite"
    print(f"intake's event-loop CPU per filing, layer by layer, on {database}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="lienthong-budget-") as tmp:
        costs = asyncio.run(measure(args.database_url, args.filings, Path(tmp)))
    save_figures(
        figures_of(costs, database),
        BENCH_DIR / f"intake-budget-{database}.json",
        f"\na filing through the app: {costs['app']:.2f} ms of the event loop's CPU (1,000 filings/s leave "
        f"{BUDGET_MS:g}); the command alone {costs['command']:.2f}, in {int(costs['statements'])} statements "
        f"of about {costs['statement']:.2f} each; the bare framework and its client {costs['bare']:.2f}",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
