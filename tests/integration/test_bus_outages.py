"""The consumer waits out a database that is going away and never stops consuming while its process lives.

Found by `make chaos` in CI: a PostgreSQL restart answered "the database system is shutting down", which was
not taken for an outage, so good events used up their attempts; writing their dead letter failed the same way
and the error ended routing's consumer task while routing went on answering HTTP. Its dossiers were never
routed.
"""

from __future__ import annotations

import asyncpg
import pytest
from asyncpg import exceptions as pg
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi
from sqlalchemy.exc import DBAPIError

from shared.bus import metrics
from shared.bus.consumer import RetryPolicy
from shared.bus.unit_of_work import UnitOfWork
from shared.events.envelope import Envelope
from tests.support.bus import BusHarness, Sequenced, eventually, record_effect, sample_sum, sequenced

pytestmark = pytest.mark.integration

DBAPI = AsyncAdapt_asyncpg_dbapi(asyncpg)  # type: ignore[no-untyped-call]


def restarts_of(consumer: str) -> float:
    return sample_sum(metrics.CONSUMER_RESTARTS, "_total", consumer=consumer)


def shutting_down() -> Exception:
    """What SQLAlchemy raises when asyncpg connects to a PostgreSQL that is shutting down."""
    error = pg.CannotConnectNowError("the database system is shutting down")
    return DBAPIError.instance("BEGIN", {}, DBAPI.Error(str(error), error), DBAPI.Error)  # type: ignore[no-untyped-call]


async def test_an_outage_is_waited_out_past_the_attempt_bound_and_never_dead_lettered(bus: BusHarness) -> None:
    outage = {"left": 8}

    async def during_a_restart(uow: UnitOfWork, event: Envelope, payload: Sequenced) -> None:
        if outage["left"] > 0:
            outage["left"] -= 1
            raise shutting_down()
        await record_effect(uow, event, payload)

    bus.handlers.register("test.restart", Sequenced, during_a_restart)
    bus.start_relay()
    bus.start_consumer(policy=RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.02))
    event = sequenced("H56.14-261203-0001", 1).model_copy(update={"type": "test.restart"})
    await bus.publish_raw(event.dossier_code.encode(), event.to_bytes())

    async def applied() -> bool:
        return len(await bus.effects()) == 1

    await eventually(applied, 30, "the event once the database is back")
    assert outage["left"] == 0  # 8 failures against a bound of 3 attempts
    assert await bus.scalar("SELECT count(*) FROM dead_letter") == 0


async def test_a_consumer_stopped_by_an_unexpected_error_rejoins_and_loses_nothing(bus: BusHarness) -> None:
    async def broken(uow: UnitOfWork, event: Envelope, payload: Sequenced) -> None:
        raise ValueError("bug in handler")

    bus.handlers.register("test.broken", Sequenced, broken)
    # The dead letter cannot be written (its table is away), by an error that is no outage.
    async with bus.sessions() as session, session.begin():
        await session.execute(text("ALTER TABLE dead_letter RENAME TO dead_letter_away"))
    before = restarts_of("bustest")
    bus.start_relay()
    bus.start_consumer(policy=RetryPolicy(max_attempts=2, initial_backoff=0.01, max_backoff=0.02))
    key = b"H56.14-261203-0002"
    await bus.publish_raw(key, sequenced(key.decode(), 1).model_copy(update={"type": "test.broken"}).to_bytes())
    await bus.publish_raw(key, sequenced(key.decode(), 2).to_bytes())

    async def restarted() -> bool:
        return restarts_of("bustest") > before

    await eventually(restarted, 30, "the consumer to leave its group and join again")
    assert await bus.effects() == []  # the message behind waits: order per dossier is kept
    async with bus.sessions() as session, session.begin():
        await session.execute(text("ALTER TABLE dead_letter_away RENAME TO dead_letter"))

    async def behind_processed() -> bool:
        return [e[1] for e in await bus.effects()] == [2]

    await eventually(behind_processed, 60, "the message behind the broken one, once the table is back")
    assert await bus.scalar("SELECT count(*) FROM dead_letter WHERE event_type = 'test.broken'") == 1
