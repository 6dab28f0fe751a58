"""An in-process bus harness on a real broker and a real database: outbox, relay and consumer runner,
with test handlers whose effects land in the ``effect`` table."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import BaseModel, ConfigDict
from sqlalchemy import text

from shared.bus.consumer import ConsumerRunner, RetryPolicy
from shared.bus.handlers import Handlers
from shared.bus.kafka import KafkaSettings, Producer
from shared.bus.outbox import stage_raw
from shared.bus.relay import OutboxRelay
from shared.bus.tracing import current_trace_headers
from shared.bus.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shared.db import create_engine, is_sqlite, migrate, session_maker
from shared.events.envelope import Envelope

TEST_MIGRATIONS = Path(__file__).parent / "migrations" / "versions"
TEST_TOPIC = "bustest.events.v1"
TEST_TYPE = "test.sequenced"


class Sequenced(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seq: int


def sequenced(dossier_code: str, seq: int, event_id: uuid.UUID | None = None) -> Envelope:
    now = datetime.now(UTC)
    return Envelope(
        event_id=event_id or uuid.uuid4(),
        type=TEST_TYPE,
        version=1,
        occurred_at=now,
        recorded_at=now,
        dossier_code=dossier_code,
        producer="bustest",
        payload={"seq": seq},
    )


async def record_effect(uow: UnitOfWork, event: Envelope, payload: Sequenced) -> None:
    await uow.session.execute(
        text("INSERT INTO effect (dossier_code, seq, event_id) VALUES (:d, :s, :e)"),
        {"d": event.dossier_code, "s": payload.seq, "e": str(event.event_id)},
    )


class BusHarness:
    def __init__(self, database_url: str, bootstrap: str, namespace: str, idempotent: bool) -> None:
        self.schema = "bustest"
        self.engine = create_engine(database_url.replace("{service}", "bustest"), self.schema)
        self.sessions = session_maker(self.engine)
        self.kafka = KafkaSettings(
            bootstrap_servers=bootstrap,
            client_id="lienthong-bustest",
            idempotent_producer=idempotent,
            namespace=namespace,
            request_timeout_ms=5000,
            verify_topics=not idempotent,
        )
        self.producer = Producer(self.kafka, topics=[TEST_TOPIC])
        self.relay = OutboxRelay(
            service="bustest",
            sessions=self.sessions,
            producer=self.producer,
            use_slot_locks=not is_sqlite(self.engine),
            poll_interval=0.1,
        )
        self.units = UnitOfWorkFactory(self.sessions, on_emitted=self.relay.wake)
        self.handlers = Handlers()
        self.handlers.register(TEST_TYPE, Sequenced, record_effect)
        self._tasks: list[asyncio.Task[None]] = []
        self.consumer: ConsumerRunner | None = None

    async def setup(self) -> None:
        await migrate(self.engine, self.schema, TEST_MIGRATIONS)

    def start_relay(self) -> None:
        self._tasks.append(asyncio.create_task(self.relay.run()))

    def start_consumer(self, name: str = "bustest", policy: RetryPolicy | None = None) -> ConsumerRunner:
        self.consumer = ConsumerRunner(
            name=name,
            topics=[TEST_TOPIC],
            handlers=self.handlers,
            units=self.units,
            kafka=self.kafka,
            policy=policy or RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.05),
        )
        self._tasks.append(asyncio.create_task(self.consumer.run()))
        return self.consumer

    async def stage(self, envelope: Envelope) -> None:
        async with self.units() as uow:
            stage_raw(
                uow.session,
                topic=TEST_TOPIC,
                key=envelope.dossier_code,
                value=envelope.to_bytes(),
                event_type=envelope.type,
                event_id=str(envelope.event_id),
                headers=current_trace_headers(),
            )
        self.relay.wake()

    async def raw_producer(self) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(bootstrap_servers=self.kafka.bootstrap_servers, acks="all")
        await producer.start()
        return producer

    async def publish_raw(
        self,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]] | None = None,
        topic: str = TEST_TOPIC,
        partition: int | None = None,
    ) -> None:
        producer = await self.raw_producer()
        try:
            await producer.send_and_wait(
                self.kafka.physical(topic), key=key, value=value, headers=headers or [], partition=partition
            )
        finally:
            await producer.stop()

    async def effects(self) -> list[tuple[str, int, str]]:
        async with self.sessions() as session:
            rows = await session.execute(text("SELECT dossier_code, seq, event_id FROM effect ORDER BY id"))
            return [(r[0], int(r[1]), r[2]) for r in rows]

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.sessions() as session:
            return (await session.execute(text(sql), params)).scalar_one()

    async def read_topic(self, topic: str, expected: int, timeout: float = 30) -> list[Any]:
        """Every record of a topic from the beginning (no consumer group), until ``expected`` arrived."""
        consumer = AIOKafkaConsumer(
            self.kafka.physical(topic),
            bootstrap_servers=self.kafka.bootstrap_servers,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
        )
        await consumer.start()
        records: list[Any] = []
        try:
            deadline = asyncio.get_running_loop().time() + timeout
            while len(records) < expected and asyncio.get_running_loop().time() < deadline:
                batch = await consumer.getmany(timeout_ms=500)
                for msgs in batch.values():
                    records.extend(msgs)
        finally:
            await consumer.stop()
        return records

    async def close(self) -> None:
        self.relay.stop()
        if self.consumer is not None:
            self.consumer.stop()
        for task in self._tasks:
            with suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(task, 10)
        await self.producer.stop()
        await self.engine.dispose()


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 30, what: str = "condition") -> None:
    """Poll until ``check`` holds (never a fixed sleep)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if await check():
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.1)


def sample_sum(metric: Any, suffix: str, **labels: str) -> float:
    """The sum of a metric's samples named ``…{suffix}`` whose labels include ``labels`` (in this process)."""
    return sum(
        float(sample.value)
        for family in metric.collect()
        for sample in family.samples
        if sample.name.endswith(suffix) and all(sample.labels.get(k) == v for k, v in labels.items())
    )
