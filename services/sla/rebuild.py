"""Rebuilding sla's state from the event history: after its database is lost, or when a projection rule
changed.

    python -m services.sla.rebuild [--reset] [--no-commit] [--workers N]

Reads the topics sla's consumer reads (intake.dossier.v1, routing.step.v1) from their first offsets up to
where they end when it gets there, with a consumer of its own (partitions assigned, no group membership).
The event types the consumer handles become facts and inbox rows, exactly as the consumer would record
them; the others are skipped as the consumer skips them; a message the consumer would dead-letter is
counted and left out. sla's own decisions (an apology, the one reset of the appointment), facts it
recorded itself and published on sla.clock.v1, are read back from there (facts without inbox rows); the
other clock events there are computed, not decided, and are skipped. Each dossier is then projected
once, from its whole history, and its clock, step and timer rows are written in bulk. Finally sla's
consumer group (``sla``) is given the offsets where the history ended, so the normal consumer resumes
after it; anything it sees again (a redelivery) is already in the inbox and is skipped.

Reading goes by partition number: a dossier's events have its code as their key, and both topics have the
same number of partitions, so partition *p* of each (sla.clock.v1 too) holds every event of its dossiers; a group of
partitions is read to its end, its dossiers projected, and its memory freed. A dossier found in a later
group (topics with different partition counts) is projected again from all its facts in the database.
With ``--workers`` above 1 (by default one a core, up to 4), worker processes read and replay the groups
side by side (services/sla/rebuild_parallel.py), each from the broker with a consumer of its own, and
tell where they stopped reading; those are the offsets sla's consumer group is given.

Not done here: the clock events the normal consumer would publish (clock.started, dossier.closed, …)
went out when the history happened and are not published again; counters of the process (metrics) start
from zero; the timers come back pending as the clock wants them now, including those whose instant has
passed (the normal consumer on the same events gives the same), so the sweep fires those again, under the
event ids they had (services/sla/timers.py ``fired_event_id``), which the consumers' inboxes skip. sla must not
run while it rebuilds: the offsets are committed at the end by joining its group, which then waits for
any other member to leave, and fails after ``COMMIT_WAIT_S``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from services.sla.context import Sla
from services.sla.rebuild_parallel import Batch, Done, replay_in_parallel
from services.sla.rebuild_replay import Progress, RebuildStats, Replay, paused_gc
from services.sla.rebuild_store import BulkStore
from services.sla.settings import SlaSettings
from shared.bus.kafka import KafkaSettings, ensure_topics, partitions_for
from shared.db import create_engine
from shared.events.topics import INTAKE_DOSSIER, ROUTING_STEP, SLA_CLOCK, replay_topic

log = logging.getLogger(__name__)
CONSUMER = "sla"
TOPICS = (INTAKE_DOSSIER.name, ROUTING_STEP.name)
"""What sla's consumer reads (services/sla/main.py), besides its replay topic."""
FETCH_RECORDS = 20_000
HISTORY_BATCH = 100_000
"""Facts and inbox rows per write."""
COMMIT_WAIT_S = 90.0
WORKERS = 4
PROJECT_BATCH = 20_000
"""Dossiers per projection write."""


class Rebuilder:
    def __init__(
        self,
        store: BulkStore,
        kafka: KafkaSettings,
        sla: Sla,
        *,
        consumer: str = CONSUMER,
        progress: Progress | None = None,
        now: datetime | None = None,
        workers: int = 1,
    ) -> None:
        """``workers``: more than one, the groups of partitions are read and replayed by so many worker
        processes (services/sla/rebuild_parallel.py), each reading its partitions from the broker."""
        self._kafka = kafka
        self._consumer = consumer
        self._store, self._sla, self._progress, self._now = store, sla, progress, now
        self._workers = workers
        self._replay = Replay(store, sla, consumer, progress, now)
        self.stats: RebuildStats = self._replay.stats

    async def run(self, *, commit_offsets: bool = True) -> RebuildStats:
        with paused_gc():
            return await self._run(commit_offsets)

    async def _run(self, commit_offsets: bool) -> RebuildStats:
        started = time.perf_counter()
        topics = [*TOPICS, SLA_CLOCK.name, replay_topic(self._consumer)]
        await ensure_topics(self._kafka, topics)
        await self._replay.start()
        consumer = reading_consumer(self._kafka)
        await consumer.start()
        try:
            await consumer.topics()  # metadata of every topic
            # Apache Kafka answers a consumer with no subscription no partition metadata; the topics were made
            # with the project's partition counts (ensure_topics), which then stand in.
            every = [
                TopicPartition(self._kafka.physical(t), p)
                for t in topics
                for p in sorted(consumer.partitions_for_topic(self._kafka.physical(t)) or range(partitions_for(t)))
            ]
            begin = await consumer.beginning_offsets(every)
            end = await consumer.end_offsets(every)
            history = [tp for tp in every if self._kafka.logical(tp.topic) in (*TOPICS, SLA_CLOCK.name)]
            # An estimate for the progress line: the embedded broker's list-offsets answer lags a little;
            # where each partition ends is read from the fetch responses (their high watermark).
            self.stats.total_events = sum(end[tp] - begin[tp] for tp in history)
            taken: dict[TopicPartition, int] = {}
            if self._workers > 1:
                for done in await self._in_parallel(history, begin):
                    taken.update((TopicPartition(*tp), offset) for tp, offset in done.positions.items())
            else:
                for number in sorted({tp.partition for tp in history}):
                    group = [tp for tp in history if tp.partition == number]
                    taken.update(await self._rebuild_group(consumer, group, begin))
                await self._replay.finish()
            if commit_offsets:
                # After the database holds everything: the normal consumer resumes where the history ended.
                mine = [tp for tp in every if self._kafka.logical(tp.topic) != SLA_CLOCK.name]
                await self._commit({tp: taken.get(tp, end[tp]) for tp in mine})
        finally:
            await consumer.stop()
        self.stats.seconds = time.perf_counter() - started
        if self._progress is not None:
            self._progress(self.stats)
        return self.stats

    async def _in_parallel(self, history: list[TopicPartition], begin: dict[TopicPartition, int]) -> list[Done]:
        groups: dict[int, list[tuple[str, int, int]]] = defaultdict(list)
        for tp in history:
            groups[tp.partition].append((tp.topic, tp.partition, begin[tp]))
        source = KafkaGroups(self._kafka, dict(groups), self._kafka.physical(SLA_CLOCK.name))
        stats = await replay_in_parallel(
            self._store,
            self._sla,
            self._consumer,
            sorted(groups),
            source,
            workers=self._workers,
            progress=self._progress,
            now=self._now,
            total_events=self.stats.total_events,
        )
        self.stats = stats
        return stats.workers

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        """Give sla's consumer group the offsets, as a member of it: joined alone (sla is stopped), it is
        assigned every partition, commits and leaves. (A commit from outside the group, which Apache Kafka
        takes while the group is empty, the embedded broker refuses once the group has had members.)"""
        member = AIOKafkaConsumer(
            bootstrap_servers=self._kafka.bootstrap_servers,
            client_id=f"{self._kafka.client_id}-rebuild-commit",
            group_id=self._kafka.physical(self._consumer),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=20_000,
            heartbeat_interval_ms=3_000,
        )
        member.subscribe(topics=sorted({tp.topic for tp in offsets}))
        await member.start()
        try:
            deadline = time.monotonic() + COMMIT_WAIT_S
            while not set(offsets) <= member.assignment():
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        "sla's consumer group did not assign every partition to the rebuild: is sla stopped?"
                    )
                await member.getmany(timeout_ms=500, max_records=1)
            await member.commit(offsets)
        finally:
            await member.stop()

    async def _rebuild_group(
        self, consumer: AIOKafkaConsumer, group: list[TopicPartition], begin: dict[TopicPartition, int]
    ) -> dict[TopicPartition, int]:
        """Read the partitions to their high watermark, write the facts, project their dossiers; the next
        offset of each partition."""
        taken = {tp: begin[tp] for tp in group}
        async for tp, messages in read_to_end(consumer, taken, lambda s: self.stats.add("fetch", s)):
            own = self._kafka.logical(tp.topic) == SLA_CLOCK.name
            await self._replay.take(((m.key, m.value) for m in messages), own=own)
        await self._replay.end_group()
        return taken


@dataclass(frozen=True)
class KafkaGroups:
    """The history on the broker as a worker process reads it: group *p* is partition *p* of every topic
    read (``partitions``: physical topic, partition, first offset), read to its high watermark."""

    kafka: KafkaSettings
    partitions: dict[int, list[tuple[str, int, int]]]
    own: str
    """sla.clock.v1's physical name: its decisions become facts without inbox rows."""
    taken: dict[tuple[str, int], int] = field(default_factory=dict, compare=False)

    def positions(self) -> dict[tuple[str, int], int]:
        return dict(self.taken)

    def __call__(self, group: int) -> AsyncIterator[Batch]:
        return self._read(self.partitions.get(group, []))

    async def _read(self, partitions: list[tuple[str, int, int]]) -> AsyncIterator[Batch]:
        consumer = reading_consumer(self.kafka)
        await consumer.start()
        try:
            taken = {TopicPartition(t, p): offset for t, p, offset in partitions}
            self.taken.update(((tp.topic, tp.partition), offset) for tp, offset in taken.items())
            async for tp, messages in read_to_end(consumer, taken):
                yield [(m.key, m.value) for m in messages], tp.topic == self.own
                self.taken[(tp.topic, tp.partition)] = taken[tp]
        finally:
            await consumer.stop()


# ---- the command ------------------------------------------------------------------------------------


class StderrProgress:
    """One line on stderr, rewritten at most five times a second: events read, events/s, dossiers."""

    def __init__(self) -> None:
        self._started = time.perf_counter()
        self._shown = 0.0

    def __call__(self, stats: RebuildStats) -> None:
        now = time.perf_counter()
        final = stats.seconds > 0
        if now - self._shown < 0.2 and not final:
            return
        self._shown = now
        elapsed = now - self._started
        share = 100 * stats.events / stats.total_events if stats.total_events else 100.0
        sys.stderr.write(
            f"\rrebuild: {stats.events:>11,}/{stats.total_events:,} events ({share:3.0f}%), "
            f"{stats.events / elapsed if elapsed else 0:8,.0f} events/s, {stats.dossiers:>9,} dossiers projected, "
            f"{elapsed:6.0f} s"
        )
        if final:
            sys.stderr.write("\n")
        sys.stderr.flush()


def kafka_settings(s: SlaSettings) -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers=s.kafka_bootstrap_servers,
        client_id=f"lienthong-sla{s.kafka_client_id_suffix}",
        namespace=s.kafka_namespace,
    )


async def rebuild(
    settings: SlaSettings,
    *,
    reset: bool = False,
    progress: Progress | None = None,
    commit_offsets: bool = True,
    workers: int = 1,
) -> RebuildStats:
    """Rebuild sla's database named by ``settings`` from the broker it names. Refuses a database that
    already holds facts, projections or inbox rows of sla's consumer unless ``reset``."""
    engine = create_engine(settings.service_database_url, "sla")
    try:
        async with BulkStore(engine, CONSUMER) as store:
            found = await store.counts()
            if any(found.values()):
                if not reset:
                    raise SystemExit(f"sla's database is not empty ({found}); --reset empties it first")
                await store.reset()
            sla = Sla.load(settings)
            rebuilder = Rebuilder(store, kafka_settings(settings), sla, progress=progress, workers=workers)
            return await rebuilder.run(commit_offsets=commit_offsets)
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.sla.rebuild",
        description="Rebuild sla's facts, clocks, steps and timers from the event history on the broker, then "
        "set sla's consumer group to the end of that history. Stop sla first. Settings come from the "
        "LIENTHONG_* environment (database URL, broker, namespace), as sla's own.",
    )
    parser.add_argument("--reset", action="store_true", help="empty sla's facts, clocks, timers and inbox first")
    parser.add_argument(
        "--no-commit", action="store_true", help="leave sla's consumer group offsets as they are (a trial run)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=min(WORKERS, os.cpu_count() or 1),
        help=f"processes replaying the groups of partitions side by side (default: the cores, at most {WORKERS})",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    settings = SlaSettings.load()
    stats = asyncio.run(
        rebuild(
            settings,
            reset=args.reset,
            progress=StderrProgress(),
            commit_offsets=not args.no_commit,
            workers=args.workers,
        )
    )
    summary = stats.as_dict()
    print(
        f"rebuilt {stats.dossiers:,} dossiers ({stats.clocks:,} clocks, {stats.steps:,} steps, {stats.timers:,} "
        f"timers) from {stats.events:,} events ({stats.facts:,} facts, {stats.ignored:,} ignored, "
        f"{stats.duplicates:,} duplicates, {stats.poison:,} left out) in {stats.seconds:.1f} s, "
        f"{summary['events_per_s']:,} events/s; phases {summary['phases']}"
    )
    return 1 if stats.poison else 0


if __name__ == "__main__":
    raise SystemExit(main())


async def read_to_end(
    consumer: AIOKafkaConsumer,
    taken: dict[TopicPartition, int],
    fetched: Callable[[float], None] | None = None,
) -> AsyncIterator[tuple[TopicPartition, list[ConsumerRecord[bytes, bytes]]]]:
    """Read the partitions of ``taken`` from its offsets to their high watermarks, a partition's messages at a
    time; ``taken`` follows the next offset of each, and ``fetched`` is told the seconds each fetch took."""
    consumer.assign(list(taken))
    for tp, offset in taken.items():
        consumer.seek(tp, offset)
    left = set(taken)
    while left:
        mark = time.perf_counter()
        batch = await consumer.getmany(*left, timeout_ms=500, max_records=FETCH_RECORDS)
        if fetched is not None:
            fetched(time.perf_counter() - mark)
        for tp, messages in batch.items():
            if messages:
                taken[tp] = messages[-1].offset + 1
                yield tp, messages
        for tp in list(left):
            high = consumer.highwater(tp)
            if high is not None and taken[tp] >= high:
                left.discard(tp)


def reading_consumer(kafka: KafkaSettings) -> AIOKafkaConsumer:
    """A consumer for reading whole topics fast: large fetches, no auto-commit, from the first offset.

    It has no group: with one, aiokafka's coordinator routine runs beside manually assigned partitions, and
    a new assignment (the next group of partitions) made while it still looks for the coordinator (a broker
    just started, leaders moving) fails it with an AssertionError. The offsets go to sla's group from a
    member of it (``Rebuilder._commit``)."""
    return AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers,
        client_id=f"{kafka.client_id}-rebuild",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=16 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
        request_timeout_ms=max(kafka.request_timeout_ms, 40_000),
    )
