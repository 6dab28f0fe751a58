"""What a running service is made of: database, outbox relay, consumer, background workers, and the
FastAPI app whose lifespan starts and stops them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from shared.bus.batch import RunLimits
from shared.bus.consumer import ConsumerRunner, RetryPolicy
from shared.bus.deadletters import refresh_pending_gauge
from shared.bus.handlers import Handlers
from shared.bus.kafka import KafkaSettings, Producer
from shared.bus.relay import OutboxRelay
from shared.bus.unit_of_work import UnitOfWorkFactory
from shared.db import create_engine, is_sqlite, migrate, session_maker
from shared.events.envelope import Envelope
from shared.events.topics import TOPICS, dead_letter_topic, replay_topic
from shared.observability import HttpMetricsMiddleware, setup_logging, setup_tracing
from shared.settings import ServiceSettings
from shared.web.auth import KeyStore, install_keys_file
from shared.web.body_limit import BodyLimitMiddleware
from shared.web.problems import install_problem_handlers
from shared.web.ratelimit import RateLimiter

log = logging.getLogger(__name__)

Worker = Callable[["Runtime"], Awaitable[None]]


@dataclass
class ServiceSpec:
    name: str
    title: str
    description: str
    settings: ServiceSettings
    migrations: Path
    routers: list[APIRouter]
    consumes: list[str] = field(default_factory=list)
    handlers: Handlers | None = None
    workers: list[Worker] = field(default_factory=list)
    setup: Callable[[Runtime], Awaitable[None]] | None = None
    teardown: Callable[[Runtime], Awaitable[None]] | None = None
    on_committed: Callable[[list[Envelope]], None] | None = None


class Runtime:
    def __init__(self, spec: ServiceSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.settings = spec.settings
        s = spec.settings
        self.engine = create_engine(s.service_database_url, spec.name)
        self.sessions = session_maker(self.engine)
        self.kafka = KafkaSettings(
            bootstrap_servers=s.kafka_bootstrap_servers,
            client_id=f"lienthong-{spec.name}{s.kafka_client_id_suffix}",
            idempotent_producer=s.kafka_idempotent_producer,
            namespace=s.kafka_namespace,
            verify_topics=s.kafka_verify_topics,
            fetch_max_wait_ms=s.kafka_fetch_max_wait_ms,
        )
        own_topics = [t.name for t in TOPICS.values() if t.producer == spec.name]
        if spec.handlers is not None:
            own_topics += [dead_letter_topic(spec.name), replay_topic(spec.name)]
        self.producer = Producer(self.kafka, topics=own_topics)
        self.relay = OutboxRelay(
            service=spec.name,
            sessions=self.sessions,
            producer=self.producer,
            use_slot_locks=not is_sqlite(self.engine),
            batch_size=s.outbox_batch_size,
            poll_interval=s.outbox_poll_interval_s,
        )
        self.units = UnitOfWorkFactory(self.sessions, on_emitted=self.relay.wake, on_committed=spec.on_committed)
        self.keys = KeyStore(self.sessions)
        self.consumer: ConsumerRunner | None = None
        if spec.handlers is not None and spec.consumes:
            self.consumer = ConsumerRunner(
                name=spec.name,
                topics=spec.consumes,
                handlers=spec.handlers,
                units=self.units,
                kafka=self.kafka,
                policy=RetryPolicy(s.consumer_max_attempts, s.consumer_backoff_initial_s, s.consumer_backoff_max_s),
                run_limits=RunLimits(s.consumer_run_max_messages, s.consumer_run_max_ms / 1000),
            )
        self.state: dict[str, Any] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._draining: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await migrate(self.engine, self.name, self.spec.migrations)
        if self.settings.bootstrap_keys_file:
            await install_keys_file(self.sessions, Path(self.settings.bootstrap_keys_file))
        if self.spec.setup is not None:
            await self.spec.setup(self)
        # The relay and the consumer finish the work in hand when asked to stop; workers are cancelled.
        self._draining.append(self._spawn("relay", self.relay.run()))
        if self.consumer is not None:
            self._draining.append(self._spawn("consumer", self.consumer.run()))
            self._spawn("dead-letter gauge", self._dead_letter_gauge())
        for worker in self.spec.workers:
            self._spawn(getattr(worker, "__name__", "worker"), worker(self))

    def _spawn(self, name: str, coro: Any) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=f"{self.name}:{name}")
        task.add_done_callback(self._on_task_done)
        self._tasks.append(task)
        return task

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s stopped with an error", task.get_name(), exc_info=task.exception())

    async def _dead_letter_gauge(self) -> None:
        while True:
            with suppress(Exception):
                await refresh_pending_gauge(self.sessions, self.name)
            await asyncio.sleep(15)

    async def stop(self) -> None:
        self.relay.stop()
        if self.consumer is not None:
            self.consumer.stop()
        for task in self._tasks:
            if task not in self._draining:
                task.cancel()
        _, pending = await asyncio.wait(self._draining, timeout=10) if self._draining else (set(), set())
        if pending:
            log.warning("%s: %d task(s) did not stop in time and were cancelled", self.name, len(pending))
        for task in self._tasks:
            task.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await task
        with suppress(Exception):
            await self.relay.release_lease()
        if self.spec.teardown is not None:
            await self.spec.teardown(self)
        await self.producer.stop()
        await self.engine.dispose()

    async def database_ok(self) -> bool:
        try:
            async with self.sessions() as session:
                await asyncio.wait_for(session.execute(text("SELECT 1")), 2)
            return True
        except Exception:
            return False


def create_service_app(spec: ServiceSpec) -> FastAPI:
    settings = spec.settings
    setup_logging(spec.name, settings.log_level)
    setup_tracing(spec.name, settings.trace_exporter, settings.otlp_endpoint)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime(spec)
        app.state.runtime = runtime
        app.state.keys = runtime.keys
        await runtime.start()
        log.info("%s listening on %s:%d", spec.name, settings.host, settings.listen_port)
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=spec.title, description=spec.description, version="0.1.0", lifespan=lifespan)
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst)
    install_problem_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(HttpMetricsMiddleware, service=spec.name)
    app.include_router(_health_router())
    for router in spec.routers:
        app.include_router(router)

    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    # One span a request: the ASGI "http receive" and "http send" spans under it cost a span each per message
    # and say nothing the request's own span does not.
    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics", exclude_spans=["receive", "send"])
    return app


def _health_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Ready: the database is reachable (the broker's state is reported)",
        responses={503: {"description": "Not ready: the database is unreachable"}},
    )
    async def readyz(request: Request) -> JSONResponse:
        runtime: Runtime = request.app.state.runtime
        database, broker = await asyncio.gather(runtime.database_ok(), runtime.producer.ping())
        # The outbox keeps every event while the broker is away: a request can still be served, so a broker
        # outage must not take every instance out of its load balancer.
        body = {
            "status": ("ready" if broker else "degraded") if database else "not ready",
            "database": "ok" if database else "unreachable",
            "broker": "ok" if broker else "unreachable",
        }
        return JSONResponse(body, status_code=200 if database else 503)

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
