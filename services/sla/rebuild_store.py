"""Bulk writes of a rebuild: facts, inbox rows, clock, step and timer rows, many rows a statement.

SQLite: one ``executemany`` per table and batch on the driver's cursor (values formatted as SQLAlchemy
stores them: naive UTC timestamps ``YYYY-MM-DD HH:MM:SS.ffffff``, booleans as 0/1). PostgreSQL: COPY
(asyncpg's ``copy_records_to_table``). The rows bypass the ORM, so they are exactly what the ORM would
store and nothing more: the clock row's version starts at 1, as a new row's does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.sla.rebuild_rows import (
    CLOCK_COLUMNS,
    FACT_COLUMNS,
    INBOX_COLUMNS,
    STEP_COLUMNS,
    TIMER_COLUMNS,
    Row,
    Rows,
)
from shared.db import is_sqlite

TABLES = {
    "sla_fact": FACT_COLUMNS,
    "inbox": INBOX_COLUMNS,
    "dossier_clock": CLOCK_COLUMNS,
    "step_clock": STEP_COLUMNS,
    "sla_timer": TIMER_COLUMNS,
}
PROJECTED = ("dossier_clock", "step_clock", "sla_timer")
CHUNK = 500
WAL_PAGES = 100_000
"""Pages the WAL may grow to during a rebuild before it is copied into the database (400 MB at 4 KB)."""


_TIMESTAMPS = frozenset(
    {"occurred_at", "recorded_at", "processed_at", "accepted_at", "started_at", "original_appointment_at"}
    | {"appointment_at", "ended_at", "returned_at", "reset_at", "assigned_at", "deadline_at", "due_at"}
)
_BOOLEANS = frozenset({"counts", "is_open", "paused"})


def sqlite_timestamp(value: datetime) -> str:
    """As SQLAlchemy stores a UtcDateTime on SQLite: naive UTC, microseconds always written."""
    return value.astimezone(UTC).isoformat(" ", "microseconds")[:26]


def sqlite_rows(columns: Sequence[str], rows: Sequence[Row]) -> list[Row]:
    """The rows with their timestamps and booleans as SQLite holds them; only those columns are touched."""
    stamps = [i for i, c in enumerate(columns) if c in _TIMESTAMPS]
    flags = [i for i, c in enumerate(columns) if c in _BOOLEANS]
    if not stamps and not flags:
        return list(rows)
    out: list[Row] = []
    cache: dict[datetime, str] = {}
    for row in rows:
        values = list(row)
        for i in stamps:
            v = values[i]
            if v is not None:
                text_ = cache.get(v)
                if text_ is None:
                    text_ = cache[v] = sqlite_timestamp(v)
                values[i] = text_
        for i in flags:
            values[i] = int(values[i])
        out.append(tuple(values))
    return out


class BulkStore:
    """Writes a rebuild's rows on one connection held for the whole rebuild."""

    def __init__(self, engine: AsyncEngine, consumer: str) -> None:
        self.engine = engine
        self.consumer = consumer
        self.sqlite = is_sqlite(engine)
        self._conn: AsyncConnection | None = None

    async def __aenter__(self) -> BulkStore:
        self._conn = await self.engine.connect()
        if self.sqlite:
            # Written again from the history if the rebuild fails: durability waits until the end. The WAL
            # is copied into the database every 100,000 pages, not every thousand: the same pages of the
            # indexes were written over and over.
            await self._pragma("synchronous=OFF", "cache_size=-1000000", f"wal_autocheckpoint={WAL_PAGES}")
        return self

    async def _pragma(self, *settings: str) -> None:
        """Outside a transaction (the engine begins every one IMMEDIATE, and some pragmas refuse that)."""
        raw = await self.conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        for setting in settings:
            await driver.execute(f"PRAGMA {setting}")

    async def __aexit__(self, *exc: object) -> None:
        assert self._conn is not None
        await self._conn.rollback()
        if self.sqlite:
            await self._pragma("synchronous=NORMAL", "wal_autocheckpoint=1000")
        await self._conn.close()
        self._conn = None

    @property
    def conn(self) -> AsyncConnection:
        assert self._conn is not None, "use the store as an async context manager"
        return self._conn

    # ---- state before the rebuild ------------------------------------------------------------------
    async def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for table in ("sla_fact", "dossier_clock", "step_clock", "sla_timer"):
            found[table] = int((await self.conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())
        found["inbox"] = int(
            (
                await self.conn.execute(text("SELECT count(*) FROM inbox WHERE consumer = :c"), {"c": self.consumer})
            ).scalar_one()
        )
        await self.conn.commit()
        return found

    async def reset(self) -> None:
        """Empty what a rebuild writes: the facts, the projections and the consumer's inbox rows."""
        for table in ("sla_timer", "step_clock", "dossier_clock", "sla_fact"):
            await self.conn.execute(text(f"DELETE FROM {table}"))
        await self.conn.execute(text("DELETE FROM inbox WHERE consumer = :c"), {"c": self.consumer})
        await self.conn.commit()

    async def next_fact_id(self) -> int:
        top = (await self.conn.execute(text("SELECT max(id) FROM sla_fact"))).scalar()
        await self.conn.commit()
        return int(top or 0) + 1

    # ---- writing -----------------------------------------------------------------------------------
    async def insert(self, table: str, rows: Sequence[Row]) -> None:
        if not rows:
            return
        columns = TABLES[table]
        if self.sqlite:
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            await self.conn.exec_driver_sql(sql, sqlite_rows(columns, rows))
            return
        raw = await self.conn.get_raw_connection()
        pg = raw.driver_connection
        assert pg is not None
        await pg.copy_records_to_table(table, records=rows, columns=columns)

    async def write_history(self, facts: Sequence[Row], inbox: Sequence[Row]) -> None:
        await self.insert("sla_fact", facts)
        await self.insert("inbox", inbox)
        await self.conn.commit()

    async def write_projection(self, rows: Rows, replaced: Sequence[str] = ()) -> None:
        """The projected rows of a batch of dossiers; ``replaced``: dossiers projected before (their rows
        are deleted first)."""
        for start in range(0, len(replaced), CHUNK):
            codes = list(replaced[start : start + CHUNK])
            for table in PROJECTED:
                marks = ", ".join(f":c{i}" for i in range(len(codes)))
                await self.conn.execute(
                    text(f"DELETE FROM {table} WHERE dossier_code IN ({marks})"),
                    {f"c{i}": c for i, c in enumerate(codes)},
                )
        await self.insert("dossier_clock", rows.clocks)
        await self.insert("step_clock", rows.steps)
        await self.insert("sla_timer", rows.timers)
        await self.conn.commit()

    async def finish(self) -> None:
        if self.sqlite:
            await self._pragma("wal_checkpoint(TRUNCATE)")
        else:
            # The facts came with their ids: the sequence moves past them, or sla's next fact collides.
            await self.conn.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('sla_fact', 'id'), max(id)) FROM sla_fact HAVING count(*) > 0"
            )
            await self.conn.exec_driver_sql("ANALYZE sla_fact, dossier_clock, step_clock, sla_timer, inbox")
            await self.conn.commit()
