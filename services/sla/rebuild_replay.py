"""Replaying a history into sla's tables in bulk: each message decoded as sla's consumer decodes it, the
facts and inbox rows written many a statement, each dossier projected once when its group of partitions
has been read (services/sla/rebuild.py reads them). No Kafka here, so a benchmark can feed it too."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Coroutine, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Protocol, Union, cast

from pydantic import BaseModel, Field, StringConstraints, TypeAdapter, ValidationError, create_model
from sqlmodel.ext.asyncio.session import AsyncSession

from services.sla.context import Sla
from services.sla.facts import FACT_TYPES, Fact
from services.sla.handlers import build_handlers
from services.sla.projection import load_histories
from services.sla.rebuild_rows import Row, Rows, dossier_rows
from services.sla.rebuild_store import BulkStore
from shared.bus.consumer import misaddressed
from shared.bus.deadletters import decoded_key
from shared.bus.handlers import Handlers
from shared.events.clock import AppointmentChange, AppointmentChanged
from shared.events.envelope import Envelope
from shared.events.registry import event_type, is_known
from shared.events.topics import SLA_CLOCK

log = logging.getLogger(__name__)
Message = tuple[bytes | None, bytes | None]
"""A message's key and value, as the broker gives them."""
HISTORY_BATCH = 100_000
"""Facts and inbox rows per write."""
PROJECT_BATCH = 20_000
"""Dossiers per projection write."""
WRITES_IN_FLIGHT = 3


class WriteLock(Protocol):
    def acquire(self) -> bool: ...
    def release(self) -> None: ...


@dataclass
class RebuildStats:
    events: int = 0
    facts: int = 0
    ignored: int = 0
    duplicates: int = 0
    poison: int = 0
    dossiers: int = 0
    clocks: int = 0
    steps: int = 0
    timers: int = 0
    reprojected: int = 0
    decisions: int = 0
    total_events: int = 0
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    """Seconds spent fetching, decoding, projecting and writing."""

    def add(self, phase: str, seconds: float) -> None:
        self.phases[phase] = self.phases.get(phase, 0.0) + seconds

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, object]:
        found = asdict(self)
        found["phases"] = {k: round(v, 2) for k, v in self.phases.items()}
        found["events_per_s"] = round(self.events_per_s)
        return found


Progress = Callable[[RebuildStats], None]


Decoded = tuple[str, str, str, datetime, BaseModel]
"""The event id, the dossier code, the type, when it occurred (UTC) and the payload."""

_CANONICAL_UUID = Annotated[
    str, StringConstraints(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
]
"""A UUID as ``str(uuid.UUID(...))`` writes it: taken as it is (no UUID object made and printed again); any
other spelling the consumer accepts goes its way and comes out in this form."""


@contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector off while a rebuild holds millions of facts: its full passes over them
    cost as much as decoding them (the rebuild's objects are freed by reference counting; nothing it makes
    is cyclic). Restored, and a collection run, at the end."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
            gc.collect()


class Decoder:
    """A message as sla's consumer would take it: a fact (with its inbox row), ignored, or poison.

    The consumer parses the envelope, then validates its payload against the handler's model. Here one
    discriminated union of envelopes, one per handled type with its payload model, parses both in one pass
    from the JSON; whatever it does not take (a type not handled, a message that is not valid) goes the
    consumer's way, which says whether it is ignored or poison."""

    def __init__(self, handlers: Handlers) -> None:
        self._handlers = handlers
        typed = [
            create_model(
                f"Typed_{name.replace('.', '_')}",
                __base__=Envelope,
                event_id=(_CANONICAL_UUID, ...),
                type=(cast(Any, Literal[name]), ...),
                payload=(registration.payload, ...),
            )
            for name in handlers.types
            if (registration := handlers.get(name)) is not None
        ]
        union: Any = Annotated[Union[tuple(typed)], Field(discriminator="type")]  # noqa: UP007 - built at run time
        self._validate = TypeAdapter(union).validator.validate_json

    def decode(self, raw: bytes | None) -> Decoded | str:
        if raw is None:
            return "poison"
        try:
            typed = self._validate(raw)
        except ValidationError:
            return self._as_the_consumer(raw)
        return typed.event_id, typed.dossier_code, typed.type, typed.occurred_at.astimezone(UTC), typed.payload

    def _as_the_consumer(self, raw: bytes) -> Decoded | str:
        try:
            envelope = Envelope.from_bytes(raw)
        except (ValidationError, UnicodeDecodeError):
            return "poison"
        registration = self._handlers.get(envelope.type)
        if registration is None:
            return "ignored" if is_known(envelope.type) else "poison"
        try:
            payload = registration.payload.model_validate(envelope.payload)
        except ValidationError:
            return "poison"
        occurred_at = envelope.occurred_at.astimezone(UTC)
        return str(envelope.event_id), envelope.dossier_code, envelope.type, occurred_at, payload


class _Kind(BaseModel):
    type: str


_KIND = TypeAdapter(_Kind)
DECISIONS = frozenset(t for t in FACT_TYPES if event_type(t).topic is SLA_CLOCK)
"""sla's own decisions kept as facts (an apology, the one reset of the appointment); they travel on sla's
own topic, which its consumer does not read."""


def decision(raw: bytes | None) -> Decoded | str:
    """A message of sla's own topic: a decision it recorded as a fact, or ignored (the clock events)."""
    try:
        kind = _KIND.validate_json(raw or b"").type
    except ValidationError:
        return "ignored"
    if kind not in DECISIONS:
        return "ignored"
    try:
        envelope = Envelope.from_bytes(raw or b"")
        payload = event_type(kind).payload.model_validate(envelope.payload)
    except ValidationError:
        return "poison"
    if isinstance(payload, AppointmentChanged) and payload.change is not AppointmentChange.RESET:
        return "ignored"  # the appointment moved by a resumption: computed, not decided
    return str(envelope.event_id), envelope.dossier_code, kind, envelope.occurred_at.astimezone(UTC), payload


class Replay:
    """Takes the messages of one group of partitions after another (every event of a dossier within one
    group), and writes what sla's consumer would have written for them."""

    def __init__(
        self,
        store: BulkStore,
        sla: Sla,
        consumer: str,
        progress: Progress | None = None,
        now: datetime | None = None,
        *,
        fact_ids: tuple[int, int] | None = None,
        write_lock: WriteLock | None = None,
    ) -> None:
        """``fact_ids``: the first id of its facts and the step between them (replays writing side by side
        take ids apart: the first from the same start, one step each); by default the store's next id, step 1.
        A dossier's facts keep their arrival order in their ids either way. ``write_lock``: held around each
        write, when replays in other processes write to the same SQLite database (a write waiting for
        SQLite's own lock sleeps in steps of up to 100 ms; this one wakes it at once)."""
        self._store = store
        self._sla = sla
        self._consumer = consumer
        self._decoder = Decoder(build_handlers(sla))
        self._progress = progress or (lambda _stats: None)
        self._now = now
        self.stats = RebuildStats()
        self.codes: set[str] = set()
        """Every dossier it projected (with a clock or not)."""
        self._fact_ids = fact_ids
        self._next_id, self._id_step = fact_ids or (1, 1)
        self._histories: dict[str, list[Fact]] = defaultdict(list)
        self._seen: set[str] = set()
        self._facts: list[Row] = []
        self._inbox: list[Row] = []
        self._pending: list[asyncio.Task[None]] = []
        self._write_lock = write_lock

    async def start(self) -> None:
        if self._fact_ids is None:
            self._next_id = await self._store.next_fact_id()

    def progress(self) -> None:
        self._progress(self.stats)

    async def take(self, messages: Iterable[Message], *, own: bool = False) -> None:
        """A batch of messages (key, value), in partition order; ``own``: of sla's own topic (its decisions
        are facts, without inbox rows: they were never consumed)."""
        mark = time.perf_counter()
        recorded_at = datetime.now(UTC)
        histories, seen, facts = self._histories, self._seen, self._facts
        inbox = None if own else self._inbox
        for key, raw in messages:
            self._take(key, raw, histories, seen, facts, inbox, recorded_at)
        self.stats.add("decode", time.perf_counter() - mark)
        if len(self._facts) >= HISTORY_BATCH:
            await self._write_history()
        self.progress()

    async def end_group(self) -> None:
        """The group's partitions are read to their end: write the rest and project its dossiers."""
        await self._write_history()
        histories, self._histories, self._seen = self._histories, defaultdict(list), set()
        await self._project(histories)

    async def finish(self) -> None:
        await self._written()
        await self._store.finish()

    async def _write(self, write: Coroutine[Any, Any, None], phase: str) -> None:
        """Queue a write and go on decoding or projecting while SQLite or PostgreSQL works (the driver
        leaves the GIL while it does): the writes run one after another on the store's connection, up to
        ``WRITES_IN_FLIGHT`` queued (a write may wait for another replay's, with ``write_lock``)."""
        if len(self._pending) >= WRITES_IN_FLIGHT:
            await self._await(self._pending.pop(0))
        before = self._pending[-1] if self._pending else None
        lock = self._write_lock

        async def timed() -> None:
            if before is not None:
                try:
                    await before
                except BaseException:
                    write.close()  # the write before failed: this one never starts
                    raise
            if lock is not None:
                await asyncio.to_thread(lock.acquire)
            try:
                mark = time.perf_counter()
                await write
                self.stats.add(phase, time.perf_counter() - mark)
            finally:
                if lock is not None:
                    lock.release()

        self._pending.append(asyncio.create_task(timed()))

    async def written(self) -> None:
        """Wait for the writes in flight (and raise what they raised)."""
        await self._written()

    async def _written(self) -> None:
        while self._pending:
            await self._await(self._pending.pop(0))

    async def _await(self, pending: asyncio.Task[None]) -> None:
        mark = time.perf_counter()
        await pending
        self.stats.add("wait_for_writes", time.perf_counter() - mark)

    def _take(
        self,
        key: bytes | None,
        raw: bytes | None,
        histories: dict[str, list[Fact]],
        seen: set[str],
        facts: list[Row],
        inbox: list[Row] | None,
        recorded_at: datetime,
    ) -> None:
        self.stats.events += 1
        taken = self._decoder.decode(raw) if inbox is not None else decision(raw)
        if isinstance(taken, str):
            if taken == "poison":
                self.stats.poison += 1
                log.warning("rebuild: a message sla's consumer would dead-letter is left out")
            else:
                self.stats.ignored += 1
            return
        event_id, code, type_, occurred_at, payload = taken
        if (wrong_key := misaddressed(decoded_key(key), code)) is not None:
            self.stats.poison += 1
            log.warning("rebuild: left out, as sla's consumer dead-letters it: %s", wrong_key)
            return
        if event_id in seen:
            self.stats.duplicates += 1
            return
        seen.add(event_id)
        fact_id = self._next_id
        self._next_id += self._id_step
        histories[code].append(Fact(type_, occurred_at, payload, fact_id))
        # payload.model_dump_json(), as the consumer stores it, without the wrapper's keyword handling
        dumped = payload.__pydantic_serializer__.to_json(payload).decode()
        facts.append((fact_id, code, event_id, type_, occurred_at, recorded_at, dumped))
        if inbox is not None:
            inbox.append((self._consumer, event_id, type_, recorded_at))
        else:
            self.stats.decisions += 1
        self.stats.facts += 1

    async def _write_history(self) -> None:
        facts, inbox, self._facts, self._inbox = self._facts, self._inbox, [], []
        await self._write(self._store.write_history(facts, inbox), "write_history")

    async def _project(self, histories: dict[str, list[Fact]]) -> None:
        codes = list(histories)
        for start in range(0, len(codes), PROJECT_BATCH):
            chunk = codes[start : start + PROJECT_BATCH]
            again = [c for c in chunk if c in self.codes]
            if again:  # seen in an earlier group (its acceptance there or not): its whole history is in the database
                await self._written()
                async with AsyncSession(self._store.engine) as session:
                    loaded = await load_histories(session, again)
                for code in again:
                    histories[code] = loaded[code]
                self.stats.reprojected += len(again)
            mark = time.perf_counter()
            rows = Rows()
            now = self._now or datetime.now(UTC)
            for code in chunk:
                dossier_rows(rows, code, histories.pop(code), self._sla, now)
            self.codes.update(chunk)
            self.stats.dossiers += len(chunk) - len(again)
            self.stats.clocks += len(rows.clocks)
            self.stats.steps += len(rows.steps)
            self.stats.timers += len(rows.timers)
            self.stats.add("project", time.perf_counter() - mark)
            await self._write(self._store.write_projection(rows, again), "write_projection")
            self._progress(self.stats)
