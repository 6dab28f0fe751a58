"""A rebuild on several cores: worker processes each replay some of the groups of partitions, side by side.

Each worker is a ``Replay`` of its own (services/sla/rebuild_replay.py) on its own connection to the same
database: it decodes its groups' messages, writes their facts and inbox rows, projects their dossiers and
writes their clock, step and timer rows, exactly as one replay does for every group. SQLite takes one
writer at a time (the workers hand a lock over), so a worker whose write waits for the other's goes on
decoding and projecting meanwhile (its writes are queued beside it); PostgreSQL takes both. The facts'
ids are taken apart (worker *w* of *n*: the first id + *w*, then every *n*-th), so a dossier's facts keep
their arrival order in their ids. A dossier whose events were in the groups of two workers (topics with
different partition counts) is projected again at the end from all its facts in the database, as one
replay does for a dossier found in a later group.

The messages come from a ``GroupSource``, sent to each worker process (so it must pickle): called with a
group's number in the worker, it gives the group's messages in batches, in partition order.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
import time
import traceback
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlmodel.ext.asyncio.session import AsyncSession

from services.sla.context import Sla
from services.sla.projection import load_histories
from services.sla.rebuild_replay import Message, Progress, RebuildStats, Replay, WriteLock, paused_gc
from services.sla.rebuild_rows import Rows, dossier_rows
from services.sla.rebuild_store import BulkStore
from shared.db import create_engine

Batch = tuple[list[Message], bool]
"""Messages (key, value) in partition order, and whether they are of sla's own topic (its decisions)."""
SHOWN_EVERY_S = 0.5


class GroupSource(Protocol):
    def __call__(self, group: int) -> Iterable[Batch] | AsyncIterable[Batch]: ...


class Positioned(Protocol):
    def positions(self) -> dict[tuple[str, int], int]:
        """Where it stopped reading: the next offset of each (topic, partition) it read."""
        ...


@dataclass(frozen=True)
class InMemorySource:
    """Values already fetched, by group."""

    groups: dict[int, list[Batch]]

    def __call__(self, group: int) -> Iterable[Batch]:
        return self.groups.get(group, [])


@dataclass(frozen=True)
class Work:
    """What one worker process does."""

    url: str
    sla: Sla
    consumer: str
    groups: tuple[int, ...]
    fact_ids: tuple[int, int]
    now: datetime | None
    source: GroupSource


@dataclass
class Done:
    """What a worker reports at the end: its counts, the dossiers it projected, its seconds and CPU seconds
    (those spent in the source, generating or fetching the values, apart)."""

    stats: RebuildStats
    codes: set[str]
    seconds: float
    cpu: float
    source_seconds: float = 0.0
    source_cpu: float = 0.0
    began: float = 0.0
    """When it began replaying (``time.time()``): its process started and its modules imported."""
    positions: dict[tuple[str, int], int] = field(default_factory=dict)
    """The source's ``positions()``, if it has them (a broker's partitions read)."""


@dataclass
class ParallelStats(RebuildStats):
    workers: list[Done] = field(default_factory=list)


def plan(groups: Sequence[int], workers: int) -> list[tuple[int, ...]]:
    """The groups of each worker, in turn (groups are about the same size)."""
    return [t for t in (tuple(groups[w::workers]) for w in range(workers)) if t]


# ---- in the worker process ------------------------------------------------------------------------------


def _worker(index: int, work: Work, updates: Any, lock: WriteLock | None) -> None:
    began = time.time()
    try:
        done = asyncio.run(_replay(index, work, updates, lock))
        done.began = began
        updates.put(("done", index, done))
    except BaseException:  # reported to the parent, which raises
        updates.put(("failed", index, traceback.format_exc()))


async def _replay(index: int, work: Work, updates: Any, lock: WriteLock | None) -> Done:
    started, cpu = time.perf_counter(), time.process_time()
    shown = [0.0]

    def progress(stats: RebuildStats) -> None:
        now = time.perf_counter()
        if now - shown[0] >= SHOWN_EVERY_S:
            shown[0] = now
            updates.put(("progress", index, _counts(stats)))

    engine = create_engine(work.url, "sla")
    source_s = source_cpu = 0.0
    try:
        with paused_gc():
            async with BulkStore(engine, work.consumer) as store:
                replay = Replay(
                    store, work.sla, work.consumer, progress, work.now, fact_ids=work.fact_ids, write_lock=lock
                )
                for group in work.groups:
                    batches = _batches(work.source(group))
                    while True:
                        mark, cpu_mark = time.perf_counter(), time.process_time()
                        batch = await anext(batches, None)
                        source_s += time.perf_counter() - mark
                        source_cpu += time.process_time() - cpu_mark
                        if batch is None:
                            break
                        await replay.take(batch[0], own=batch[1])
                    await replay.end_group()
                await replay.written()
    finally:
        await engine.dispose()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    done = Done(replay.stats, replay.codes, seconds, cpu, source_s, source_cpu)
    positioned = getattr(work.source, "positions", None)
    if positioned is not None:
        done.positions = positioned()
    return done


async def _batches(found: Iterable[Batch] | AsyncIterable[Batch]) -> AsyncIterator[Batch]:
    if isinstance(found, AsyncIterable):
        async for batch in found:
            yield batch
    else:
        for batch in found:
            yield batch


def _counts(stats: RebuildStats) -> dict[str, int]:
    return {
        f.name: getattr(stats, f.name)
        for f in fields(RebuildStats)
        if f.type in ("int", int) and f.name != "total_events"
    }


# ---- in the parent --------------------------------------------------------------------------------------


async def replay_in_parallel(
    store: BulkStore,
    sla: Sla,
    consumer: str,
    groups: Sequence[int],
    source: GroupSource,
    *,
    workers: int = 2,
    progress: Progress | None = None,
    now: datetime | None = None,
    total_events: int = 0,
) -> ParallelStats:
    """Replay ``groups`` from ``source`` into ``store``'s database with ``workers`` processes, then project
    again any dossier two of them saw, and finish the store (as ``Replay.finish``)."""
    started = time.perf_counter()
    first = await store.next_fact_id()
    url = store.engine.url.render_as_string(hide_password=False)
    shares = plan(groups, workers)
    context = multiprocessing.get_context("spawn")  # no copy of the parent's event loop and threads
    updates = context.Queue()
    lock = context.Lock() if store.sqlite else None  # SQLite: one writer at a time, handed over at once
    processes = [
        context.Process(
            target=_worker,
            args=(i, Work(url, sla, consumer, share, (first + i, len(shares)), now, source), updates, lock),
            name=f"sla-rebuild-{i}",
        )
        for i, share in enumerate(shares)
    ]
    spawned = time.time()
    for p in processes:
        p.start()
    stats = ParallelStats(total_events=total_events)
    try:
        done = await _collect(processes, updates, stats, progress or (lambda _stats: None))
    finally:
        for p in processes:
            if p.is_alive():
                p.terminate()
            p.join()
    for d in done:
        _add(stats, d.stats)
    stats.workers = done
    stats.add("workers_starting", max(d.began for d in done) - spawned)
    stats.add("workers_started_to_done", max(d.seconds for d in done))
    mark = time.perf_counter()
    await _project_again(store, sla, stats, [d.codes for d in done], now)
    stats.add("project_again", time.perf_counter() - mark)
    mark = time.perf_counter()
    await store.finish()
    stats.add("finish", time.perf_counter() - mark)
    stats.seconds = time.perf_counter() - started
    if progress:
        progress(stats)
    return stats


async def _collect(processes: list[Any], updates: Any, stats: ParallelStats, progress: Progress) -> list[Done]:
    done: dict[int, Done] = {}
    latest: dict[int, dict[str, int]] = {}
    while len(done) < len(processes):
        try:
            kind, index, body = await asyncio.to_thread(updates.get, True, SHOWN_EVERY_S)
        except queue.Empty:
            for i, p in enumerate(processes):
                if i not in done and not p.is_alive() and p.exitcode not in (None, 0):
                    raise RuntimeError(f"rebuild worker {i} ended with exit code {p.exitcode}") from None
            continue
        if kind == "failed":
            raise RuntimeError(f"rebuild worker {index} failed:\n{body}")
        if kind == "done":
            done[index] = body
            latest[index] = _counts(body.stats)
        else:
            latest[index] = body
        total: Counter[str] = Counter()
        for counts in latest.values():
            total.update(counts)
        for name, value in total.items():
            setattr(stats, name, value)
        progress(stats)
    for name in _counts(stats):
        setattr(stats, name, 0)
    return [done[i] for i in range(len(processes))]


def _add(stats: RebuildStats, other: RebuildStats) -> None:
    for name in _counts(other):
        setattr(stats, name, getattr(stats, name) + getattr(other, name))
    for phase, seconds in other.phases.items():
        stats.add(phase, seconds)


async def _project_again(
    store: BulkStore, sla: Sla, stats: RebuildStats, codes: list[set[str]], now: datetime | None
) -> None:
    """Dossiers projected by more than one worker, each from only its part of their facts: once more from
    all of them."""
    seen: Counter[str] = Counter()
    for found in codes:
        seen.update(found)
    again = sorted(code for code, n in seen.items() if n > 1)
    if not again:
        return
    async with AsyncSession(store.engine) as session:
        histories = await load_histories(session, again)
    rows = Rows()
    for code in again:
        dossier_rows(rows, code, histories[code], sla, now or datetime.now(UTC))
    await store.write_projection(rows, again)
    stats.clocks += len(rows.clocks)
    stats.steps += len(rows.steps)
    stats.timers += len(rows.timers)
    stats.reprojected += len(again)
    stats.dossiers -= sum(seen[code] - 1 for code in again)  # counted by each worker that saw them: once
