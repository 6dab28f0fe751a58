"""aiokafka clients configured the same way everywhere, and topic creation."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

from shared.events.topics import TOPICS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap_servers: str
    client_id: str
    idempotent_producer: bool = False
    request_timeout_ms: int = 10_000
    namespace: str = ""
    """Prefix of every topic and consumer group name, so several platforms (or test runs) share a broker."""
    verify_topics: bool = False
    """Refresh metadata before each publish batch and fail it if a topic is gone: the embedded in-memory
    broker, once restarted, acknowledges writes to partitions it no longer has."""
    fetch_max_wait_ms: int = 100

    def physical(self, topic: str) -> str:
        return f"{self.namespace}{topic}"

    def logical(self, topic: str) -> str:
        return topic.removeprefix(self.namespace) if self.namespace else topic


def partitions_for(topic: str) -> int:
    known = TOPICS.get(topic)
    return known.partitions if known else 3


async def ensure_topics(settings: KafkaSettings, names: Iterable[str]) -> None:
    """Create missing topics with the partition counts of the topic catalogue."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=f"{settings.client_id}-admin",
        request_timeout_ms=settings.request_timeout_ms,
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(settings.physical(n), partitions_for(n), 1)
            for n in sorted(set(names))
            if settings.physical(n) not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
    finally:
        await admin.close()


class Producer:
    """A producer that (re)connects lazily, so a service starts and serves while the broker is down."""

    def __init__(self, settings: KafkaSettings, topics: Iterable[str] = ()) -> None:
        self._settings = settings
        self._topics = tuple(topics)
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    @property
    def settings(self) -> KafkaSettings:
        return self._settings

    @property
    def started(self) -> bool:
        return self._producer is not None

    async def ensure_started(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                if self._topics:
                    await ensure_topics(self._settings, self._topics)
                producer = AIOKafkaProducer(
                    bootstrap_servers=self._settings.bootstrap_servers,
                    client_id=self._settings.client_id,
                    acks="all",
                    enable_idempotence=self._settings.idempotent_producer,
                    linger_ms=2,
                    request_timeout_ms=self._settings.request_timeout_ms,
                    max_batch_size=256 * 1024,
                    retry_backoff_ms=200,
                )
                try:
                    await producer.start()
                except BaseException:
                    await producer.stop()
                    raise
                self._producer = producer
            return self._producer

    async def verify_topics(self, topics: set[str]) -> None:
        """Raise if the broker does not know one of ``topics`` (logical names)."""
        producer = await self.ensure_started()
        await producer.client.force_metadata_update()
        for topic in topics:
            if not producer.client.cluster.partitions_for_topic(self._settings.physical(topic)):
                raise KafkaConnectionError(f"topic {topic} is unknown to the broker")

    async def reset(self) -> None:
        """Drop the connection after an error so the next attempt starts clean."""
        async with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            try:
                await producer.stop()
            except KafkaError as exc:  # the broker may be the reason we reset
                log.debug("producer stop after error: %r", exc)

    async def stop(self) -> None:
        await self.reset()

    async def ping(self, wait_s: float = 2.0) -> bool:
        """True when the broker answers a metadata request."""
        try:
            producer = await asyncio.wait_for(self.ensure_started(), wait_s)
            return bool(await asyncio.wait_for(producer.client.fetch_all_metadata(), wait_s))
        except (KafkaError, OSError, TimeoutError):
            return False
