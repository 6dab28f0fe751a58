"""The consumer runner: at-least-once delivery, exactly-once effect.

For each message, in partition order: decode, skip if the inbox already holds its event id, run the
handler and record the inbox row in one database transaction, and only then commit the offset. Errors
are retried with exponential backoff and jitter; a message that cannot be processed goes to the
consumer's dead-letter topic (and ``dead_letter`` table) with its origin and error, and the partition
moves on. A database or network outage is retried without bound: it is not the message's fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from shared.bus import metrics
from shared.bus.batch import RESULT_ATTRIBUTE, RunLimits, Work, apply_run
from shared.bus.deadletters import DeadLetterWriter, FailedMessage
from shared.bus.handlers import Handlers, PermanentError
from shared.bus.kafka import KafkaSettings, ensure_topics
from shared.bus.tables import InboxRecord
from shared.bus.tracing import context_from_headers, tracer
from shared.bus.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shared.events.envelope import Envelope
from shared.events.registry import is_known
from shared.events.topics import replay_topic
from shared.failpoints import failpoint
from shared.observability import DOSSIER_ATTRIBUTE
from shared.outages import is_outage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    initial_backoff: float = 0.2
    max_backoff: float = 30.0

    def delay(self, attempt: int) -> float:
        """Exponential backoff with full jitter."""
        return random.uniform(0, min(self.max_backoff, self.initial_backoff * 2 ** (attempt - 1)))


COMMIT_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 30.0


class ConsumerRestart(KafkaError):  # type: ignore[misc]
    """Leave the group and join again with a new client."""


class PoisonMessage(Exception):
    """A message that no retry can fix: undecodable, not keyed by its dossier code, of an unknown type, or with
    an invalid payload."""


def misaddressed(key: str | None, dossier_code: str) -> str | None:
    """Why a message is not keyed by its event's dossier code; None when it is. The key keeps one dossier's
    events in order on one partition: a message keyed otherwise may overtake or be overtaken by that dossier's
    others, so applying it could corrupt the state."""
    if key == dossier_code:
        return None
    if key is None:
        return "no key: events are keyed by their dossier code"
    return f"key {key[:60]!r} is not the event's dossier code {dossier_code!r}"


def decode(raw: bytes | None) -> Envelope:
    if raw is None:
        raise PoisonMessage("empty message (no value)")
    try:
        return Envelope.from_bytes(raw)
    except ValidationError as exc:
        raise PoisonMessage(f"not an event envelope: {_first_error(exc)}") from exc
    except UnicodeDecodeError as exc:
        raise PoisonMessage(f"not UTF-8: {exc}") from exc


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "message"
    return f"{where}: {err['msg']} ({exc.error_count()} error(s))"


class ConsumerRunner:
    def __init__(
        self,
        *,
        name: str,
        topics: list[str],
        handlers: Handlers,
        units: UnitOfWorkFactory,
        kafka: KafkaSettings,
        policy: RetryPolicy | None = None,
        batch_size: int = 200,
        run_limits: RunLimits | None = None,
    ) -> None:
        self.name = name
        self.topics = [*topics, replay_topic(name)]
        for topic in self.topics:  # zero series, so dead-letter rates read 0 rather than "no data"
            metrics.EVENTS_DEAD_LETTERED.labels(name, topic)
        self.handlers = handlers
        self._units = units
        self._kafka = kafka
        self._policy = policy or RetryPolicy()
        self._batch_size = batch_size
        self._limits = run_limits or RunLimits()
        self._dead_letters = DeadLetterWriter(name, units)
        self._consumer: AIOKafkaConsumer | None = None
        self._stopping = asyncio.Event()
        self._lock = asyncio.Lock()
        self._pending: dict[TopicPartition, int] = {}
        self._positions: dict[TopicPartition, int] = {}
        self._commit_failures = 0
        self.ready = asyncio.Event()

    # ---- lifecycle -------------------------------------------------------------------------------
    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Consume until ``stop()``; survives the broker going away and coming back."""
        failures = 0
        while not self._stopping.is_set():
            try:
                await self._consume()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                delay = min(10.0, 0.5 * 2 ** min(failures, 5))
                if isinstance(exc, KafkaError | OSError):
                    log.warning("consumer %s: broker unavailable (%r); retrying in %.1fs", self.name, exc, delay)
                else:
                    # A consumer that stops consuming while its service answers HTTP is the worst outcome; the
                    # offsets are not committed past the failed message, so rejoin and go on from there.
                    metrics.CONSUMER_RESTARTS.labels(self.name, type(exc).__name__).inc()
                    log.error("consumer %s: stopped by %r; rejoining in %.1fs", self.name, exc, delay, exc_info=exc)
                await self._sleep(delay)

    async def _consume(self) -> None:
        await ensure_topics(self._kafka, self.topics)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._kafka.bootstrap_servers,
            client_id=f"{self._kafka.client_id}-consumer",
            group_id=self._kafka.physical(self.name),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self._batch_size,
            request_timeout_ms=max(self._kafka.request_timeout_ms, 40_000),
            session_timeout_ms=20_000,
            heartbeat_interval_ms=3_000,
            metadata_max_age_ms=30_000,
            fetch_max_wait_ms=self._kafka.fetch_max_wait_ms,
        )
        consumer.subscribe([self._kafka.physical(t) for t in self.topics], listener=_CommitOnRevoke(self))
        await consumer.start()
        self._consumer = consumer
        try:
            self.ready.set()
            while not self._stopping.is_set():
                batch = await consumer.getmany(timeout_ms=500, max_records=self._batch_size)
                metrics.CONSUMER_LAST_POLL.labels(self.name).set_to_current_time()
                async with self._lock:
                    if not self._stopping.is_set():
                        # Partition after partition: each partition's messages stay in their order.
                        await self.process_many([m for messages in batch.values() for m in messages])
                        for tp, messages in batch.items():
                            if messages:
                                self._pending[tp] = self._positions[tp] = messages[-1].offset + 1
                    await self._commit()
                self._update_lag(consumer)
        finally:
            self.ready.clear()
            self._consumer = None
            try:
                async with self._lock:
                    await self._commit(consumer)
            except KafkaError as exc:
                log.warning("consumer %s: final offset commit failed (%r)", self.name, exc)
            finally:
                self._pending.clear()
                self._positions.clear()
                await self._close(consumer)

    async def _close(self, consumer: AIOKafkaConsumer) -> None:
        """aiokafka's stop waits for the group's coordination task; leaving after a broker outage, it once never
        returned (chaos on Apache Kafka: sla's lag frozen for minutes while the service answered ready), so the
        wait is bounded and the rejoin goes on with a new client."""
        try:
            await asyncio.wait_for(consumer.stop(), STOP_TIMEOUT_S)
        except TimeoutError:
            log.warning("consumer %s: old client not stopped in %.0fs; rejoining anyway", self.name, STOP_TIMEOUT_S)

    async def _commit(self, consumer: AIOKafkaConsumer | None = None) -> None:
        consumer = consumer or self._consumer
        if not self._pending or consumer is None:
            return
        offsets, self._pending = self._pending, {}
        owned = consumer.assignment()
        offsets = {tp: off for tp, off in offsets.items() if tp in owned}
        if not offsets:
            return
        try:
            await asyncio.wait_for(consumer.commit(offsets), COMMIT_TIMEOUT_S)
            self._commit_failures = 0
        except (KafkaError, TimeoutError) as exc:
            # The effects are committed in the database; a redelivery is deduplicated by the inbox.
            self._commit_failures += 1
            log.warning("consumer %s: offset commit failed (%r); messages may be redelivered", self.name, exc)
            if self._commit_failures >= 2:
                # The broker lost the group or the topic (a restarted in-memory broker does): rejoin.
                self._commit_failures = 0
                raise ConsumerRestart(f"offset commits keep failing: {exc!r}") from exc

    def _update_lag(self, consumer: AIOKafkaConsumer) -> None:
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            pos = self._positions.get(tp)
            if high is not None and pos is not None:
                metrics.CONSUMER_LAG.labels(self.name, self._kafka.logical(tp.topic), str(tp.partition)).set(
                    max(0, high - pos)
                )

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    # ---- one message -----------------------------------------------------------------------------
    async def process_many(self, messages: Sequence[Any]) -> None:
        """Process Kafka records in order: runs of good messages a transaction each, the rest one by one."""
        run: list[Work] = []
        for message in messages:
            topic = self._kafka.logical(message.topic)
            metrics.EVENTS_CONSUMED.labels(self.name, topic).inc()
            failed = FailedMessage.from_record(message, topic)
            try:
                work = self._work(failed, message.value)
            except PoisonMessage as exc:
                await self._apply_runs(run)
                run = []
                self._count_failure(topic, exc)
                await self._dead_letter(failed, exc, attempts=1)
                continue
            if work is None:
                metrics.EVENTS_PROCESSED.labels(self.name, topic, "ignored").inc()
                continue
            run.append(work)
        await self._apply_runs(run)

    def _work(self, failed: FailedMessage, value: bytes | None) -> Work | None:
        """The message decoded with its handler; None for a known type this consumer does not handle."""
        envelope = decode(value)
        if (wrong_key := misaddressed(failed.key, envelope.dossier_code)) is not None:
            raise PoisonMessage(wrong_key)
        registration = self.handlers.get(envelope.type)
        if registration is None:
            if not is_known(envelope.type):
                raise PoisonMessage(f"unknown event type {envelope.type!r}")
            return None
        try:
            payload = registration.payload.model_validate(envelope.payload)
        except ValidationError as exc:
            raise PoisonMessage(f"invalid {envelope.type} payload: {_first_error(exc)}") from exc
        return Work(failed, envelope, registration, payload)

    async def _apply_runs(self, works: Sequence[Work]) -> None:
        i = 0
        while i < len(works):
            stopped_by: Work | None = works[i]
            error: Exception | None = None
            if self._limits.max_messages > 1 and len(works) - i > 1:
                outcome = await apply_run(self.name, self._units, works[i:], self._traced, self._limits)
                i += outcome.applied
                stopped_by, error = outcome.stopped_by, outcome.error
            if stopped_by is not None:
                await self._process_with_retries(stopped_by, first_error=error)
                i += 1

    async def _process_with_retries(self, work: Work, *, first_error: Exception | None = None) -> str:
        """Apply one message, retrying; ``first_error`` is its handler's failure inside a run (attempt 1)."""
        failed, envelope = work.failed, work.envelope
        attempt = 0
        outages = 0
        error = first_error
        while True:
            attempt += 1
            if error is None:
                try:
                    with self._traced(work) as span:
                        result = await self._apply_once(work)
                        span.set_attribute(RESULT_ATTRIBUTE, result)
                    metrics.EVENTS_PROCESSED.labels(self.name, failed.topic, result).inc()
                    return result
                except Exception as exc:
                    error = exc
            self._count_failure(failed.topic, error)
            if isinstance(error, PermanentError):
                await self._dead_letter(failed, error, attempts=attempt, envelope=envelope)
                return "dead-lettered"
            if is_outage(error) and not self._stopping.is_set():
                outages += 1
                attempt -= 1
                delay = self._policy.delay(min(outages, 10))
                log.warning(
                    "consumer %s: outage while handling %s (%r); retrying in %.1fs",
                    self.name,
                    envelope.type,
                    error,
                    delay,
                )
            elif attempt >= self._policy.max_attempts:
                log.error(
                    "consumer %s: %s failed %d times; dead-lettering",
                    self.name,
                    envelope.type,
                    attempt,
                    exc_info=error,
                )
                await self._dead_letter(failed, error, attempts=attempt, envelope=envelope)
                return "dead-lettered"
            else:
                delay = self._policy.delay(attempt)
                log.warning(
                    "consumer %s: %s failed (attempt %d, %r); retrying in %.2fs",
                    self.name,
                    envelope.type,
                    attempt,
                    error,
                    delay,
                )
            error = None
            await self._sleep(delay)

    @contextlib.contextmanager
    def _traced(self, work: Work) -> Iterator[Span]:
        """The message's span (a child of the producer's, from the headers) and its handler time."""
        envelope = work.envelope
        attributes = {
            "messaging.system": "kafka",
            "messaging.operation": "process",
            "messaging.consumer.group.name": self.name,
            "messaging.message.id": str(envelope.event_id),
            DOSSIER_ATTRIBUTE: envelope.dossier_code,
        }
        ctx = context_from_headers(work.failed.headers)
        with (
            tracer.start_as_current_span(
                f"{envelope.type} process", context=ctx, kind=SpanKind.CONSUMER, attributes=attributes
            ) as span,
            metrics.HANDLER_DURATION.labels(self.name, envelope.type).time(),
        ):
            try:
                yield span
            except Exception as exc:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise

    async def _apply_once(self, work: Work) -> str:
        event_id = work.event_id
        try:
            async with self._units.sessions() as session, session.begin():
                if await session.get(InboxRecord, (self.name, event_id)) is not None:
                    return "duplicate"
                session.add(InboxRecord.of(self.name, work.envelope))
                uow = UnitOfWork(session)
                await work.registration.handler(uow, work.envelope, work.payload)
        except IntegrityError:
            # Another member of the group committed the same event first (during a rebalance).
            async with self._units.sessions() as session:
                if await session.get(InboxRecord, (self.name, event_id)) is not None:
                    return "duplicate"
            raise
        failpoint("consumer.after_db_commit")
        self._units.committed(uow)
        return "handled"

    def _count_failure(self, topic: str, exc: BaseException) -> None:
        metrics.EVENTS_FAILED.labels(self.name, topic, type(exc).__name__).inc()

    async def _dead_letter(
        self, failed: FailedMessage, exc: BaseException, *, attempts: int, envelope: Envelope | None = None
    ) -> None:
        log.error(
            "consumer %s: dead-lettering %s[%d]@%d: %s: %s",
            self.name,
            failed.topic,
            failed.partition,
            failed.offset,
            type(exc).__name__,
            exc,
        )
        span = trace.get_current_span()
        span.add_event("dead-lettered", {"error": type(exc).__name__})
        while True:
            try:
                await self._dead_letters.write(failed, exc, attempts=attempts, envelope=envelope)
                break
            except Exception as write_exc:
                if not is_outage(write_exc) or self._stopping.is_set():
                    raise
                await self._sleep(self._policy.delay(3))
        metrics.EVENTS_DEAD_LETTERED.labels(self.name, failed.topic).inc()


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: ConsumerRunner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        async with self._runner._lock:
            await self._runner._commit()
        for tp in revoked:
            self._runner._positions.pop(tp, None)
            # Another member reports this partition's lag now; a stale series here would be summed with it.
            with contextlib.suppress(KeyError):
                metrics.CONSUMER_LAG.remove(self._runner.name, self._runner._kafka.logical(tp.topic), str(tp.partition))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        log.info(
            "consumer %s: assigned %s",
            self._runner.name,
            sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned),
        )
