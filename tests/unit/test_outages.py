"""Outages are told apart from faults of the work in hand, from the errors the drivers really raise: a restart of
PostgreSQL must be waited out, never dead-letter an event or answer a portal with a 500."""

from __future__ import annotations

import sqlite3

import asyncpg
import pytest
from asyncpg import exceptions as pg
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from shared.outages import is_outage, sqlstate

DBAPI = AsyncAdapt_asyncpg_dbapi(asyncpg)  # type: ignore[no-untyped-call]


def through_sqlalchemy(error: Exception, adapted: type[Exception] = DBAPI.Error) -> Exception:
    """What SQLAlchemy raises for an asyncpg error: the driver's error adapted, then wrapped."""
    return DBAPIError.instance("SELECT 1", {}, adapted(str(error), error), DBAPI.Error)


@pytest.mark.parametrize(
    "error",
    [
        pg.CannotConnectNowError("the database system is shutting down"),
        pg.CannotConnectNowError("the database system is starting up"),
        pg.AdminShutdownError("terminating connection due to administrator command"),
        pg.CrashShutdownError("terminating connection due to crash of another server process"),
        pg.TooManyConnectionsError("sorry, too many clients already"),
        pg.ConnectionDoesNotExistError("connection does not exist"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_postgresql_going_away_is_an_outage(error: Exception) -> None:
    wrapped = through_sqlalchemy(error)
    assert sqlstate(wrapped) == error.sqlstate  # type: ignore[attr-defined]
    assert is_outage(wrapped)


def test_a_closed_connection_is_an_outage() -> None:
    closed = asyncpg.InterfaceError("cannot call PreparedStatement.fetch(): the underlying connection is closed")
    assert is_outage(through_sqlalchemy(closed, DBAPI.InterfaceError))


@pytest.mark.parametrize(
    "error",
    [
        pg.UniqueViolationError("duplicate key value violates unique constraint"),
        pg.UndefinedColumnError('column "x" does not exist'),
        pg.NumericValueOutOfRangeError("integer out of range"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_errors_of_the_work_itself_are_not_outages(error: Exception) -> None:
    assert not is_outage(through_sqlalchemy(error))


def test_sqlite_busy_is_an_outage_and_a_bad_statement_is_not() -> None:
    busy = DBAPIError.instance("BEGIN", {}, sqlite3.OperationalError("database is locked"), sqlite3.Error)
    bad = DBAPIError.instance("SELEC", {}, sqlite3.OperationalError('near "SELEC": syntax error'), sqlite3.Error)
    assert is_outage(busy)
    assert not is_outage(bad)


def test_network_and_pool_exhaustion_are_outages_and_bugs_are_not() -> None:
    assert is_outage(ConnectionRefusedError(111, "Connection refused"))
    assert is_outage(PoolTimeoutError("QueuePool limit of size 10 overflow 10 reached"))
    assert not is_outage(ValueError("a bug"))
    assert not is_outage(KeyError("step"))
