"""Engines, sessions and start-up migrations: SQLite (a file per service) or PostgreSQL (a schema each)."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
PLATFORM_VERSIONS = MIGRATIONS_DIR / "versions"

SessionMaker = async_sessionmaker[AsyncSession]


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def create_engine(url: str, schema: str) -> AsyncEngine:
    """An async engine; on PostgreSQL every connection works inside ``schema``."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, pool_size=8, max_overflow=8)
        _configure_sqlite(engine)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_async_engine(
            url,
            connect_args={"server_settings": {"search_path": schema, "application_name": f"lienthong-{schema}"}},
            pool_size=10,
            max_overflow=10,
            pool_pre_ping=True,
        )
    raise ValueError(f"unsupported database URL {parsed.render_as_string(hide_password=True)!r}")


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Transactions are begun explicitly below: the driver's deferred BEGIN would let two writers
        # both read and then fail to upgrade their lock (SQLITE_BUSY without waiting).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA busy_timeout=30000",
            "PRAGMA foreign_keys=ON",
        ):
            cur.execute(pragma)
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class _GatedTransaction:
    """``async with session.begin()`` that first waits for the process's turn to write."""

    def __init__(self, session: AsyncSession, gate: asyncio.Lock) -> None:
        self._session = session
        self._gate = gate
        self._transaction: Any = None

    async def __aenter__(self) -> Any:
        await self._gate.acquire()
        try:
            self._transaction = AsyncSession.begin(self._session)
            return await self._transaction.__aenter__()
        except BaseException:
            self._gate.release()
            raise

    async def __aexit__(self, *exc: Any) -> Any:
        try:
            return await self._transaction.__aexit__(*exc)
        finally:
            self._gate.release()


class SqliteSession(AsyncSession):
    """SQLite has one writer at a time. Explicit transactions of a process queue on an asyncio lock,
    which hands over the moment the writer commits, instead of on SQLite's busy handler, which polls
    with sleeps of up to 100 ms and made latencies spike under concurrent requests."""

    gate: asyncio.Lock

    def begin(self) -> Any:
        return _GatedTransaction(self, self.gate)


def session_maker(engine: AsyncEngine) -> SessionMaker:
    if is_sqlite(engine):
        gated = type("GatedSqliteSession", (SqliteSession,), {"gate": asyncio.Lock()})
        return async_sessionmaker(engine, class_=gated, expire_on_commit=False)
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def transaction(sessions: SessionMaker) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits when the block ends, rolls back if it raises."""
    async with sessions() as session, session.begin():
        yield session


def alembic_config(service_versions: Path) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", os.pathsep.join([str(PLATFORM_VERSIONS), str(service_versions)]))
    return cfg


def advisory_key(name: str) -> int:
    """A stable 64-bit key for PostgreSQL's advisory locks."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


async def lock_for_transaction(session: AsyncSession, name: str) -> None:
    """Serialise the transactions that name the same thing until they end (PostgreSQL's advisory lock).
    SQLite needs none: its writers already run one at a time."""
    bind = session.bind
    if bind is not None and bind.dialect.name != "sqlite":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": advisory_key(name)})


async def migrate(engine: AsyncEngine, schema: str, service_versions: Path) -> None:
    """Bring the service's tables (and the platform's bus tables) to the newest revision."""
    cfg = alembic_config(service_versions)
    async with engine.begin() as conn:
        if not is_sqlite(engine):
            await conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": advisory_key(f"migrate:{schema}")})
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))

        def _upgrade(sync_conn: Connection) -> None:
            cfg.attributes["connection"] = sync_conn
            command.upgrade(cfg, "heads")

        await conn.run_sync(_upgrade)
