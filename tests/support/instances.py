"""Several instances of one service in the end-to-end tests: what each instance did (its own /metrics), the
consumer group they share (as the broker describes it), and every event of some dossiers on a topic."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families

from services.devstack import DevStack
from shared.events.envelope import Envelope

_UUID_SUFFIX = len("-00000000-0000-0000-0000-000000000000")


def processed(stack: DevStack, service: str, topic: str, *, instance: int = 1, result: str = "handled") -> int:
    """How many messages of ``topic`` this instance's consumer processed with ``result`` since it started,
    from its own /metrics (each instance counts only its own work)."""
    body = httpx.get(f"{stack.config.url(service, instance)}/metrics", timeout=10).text
    wanted = {"consumer": service, "topic": topic, "result": result}
    return sum(
        int(sample.value)
        for family in text_string_to_metric_families(body)
        if family.name == "lienthong_events_processed"
        for sample in family.samples
        if sample.name == "lienthong_events_processed_total" and sample.labels == wanted
    )


@dataclass(frozen=True)
class Group:
    state: str
    members: list[tuple[str, str]]
    """(client id, member id) of each member, sorted; a killed member stays until its session runs out."""

    @property
    def clients(self) -> list[str]:
        return [client for client, _ in self.members]

    def member_ids(self, client: str) -> list[str]:
        return [member for c, member in self.members if c == client]


def describe_group(stack: DevStack, group: str) -> Group:
    """The consumer group as its coordinator describes it. Apache Kafka and the embedded broker both name a
    member ``<client id>-<uuid>``; only Apache Kafka also fills in the client id, so it is read off the name."""

    async def describe() -> Group:
        admin = AIOKafkaAdminClient(bootstrap_servers=stack.config.bootstrap, request_timeout_ms=10_000)
        await admin.start()
        try:
            (response,) = await admin.describe_consumer_groups([f"{stack.config.kafka_namespace}{group}"])
        finally:
            await admin.close()
        (described,) = response.groups
        error_code, _, state, _, _, members = described[:6]
        assert error_code == 0, f"describing {group}: error {error_code}"
        return Group(
            state, sorted((client or member_id[:-_UUID_SUFFIX], member_id) for member_id, client, *_ in members)
        )

    return asyncio.run(describe())


def read_topic(
    stack: DevStack,
    topic: str,
    codes: set[str],
    expected: int,
    *,
    types: set[str] | None = None,
    timeout: float = 60,
) -> list[Envelope]:
    """Every event of ``codes`` (of ``types``, if given) on a topic, as it arrives, read from the beginning
    without a consumer group: until ``expected`` distinct events are in, then a little longer, since a
    duplicate (a relay resending a batch whose acknowledgement it never saw) may arrive right behind."""

    def wanted(envelope: Envelope) -> bool:
        return envelope.dossier_code in codes and (types is None or envelope.type in types)

    async def read() -> list[Envelope]:
        consumer = AIOKafkaConsumer(
            f"{stack.config.kafka_namespace}{topic}",
            bootstrap_servers=stack.config.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
        )
        await consumer.start()
        found: list[Envelope] = []
        distinct: set[str] = set()
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while len(distinct) < expected and loop.time() < deadline:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        if wanted(envelope := Envelope.from_bytes(record.value)):
                            found.append(envelope)
                            distinct.add(str(envelope.event_id))
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                found.extend(e for r in records if wanted(e := Envelope.from_bytes(r.value)))
        finally:
            await consumer.stop()
        return found

    return asyncio.run(read())


def first_arrivals(events: list[Envelope]) -> list[Envelope]:
    """The events in arrival order with every later copy of an event id left out."""
    seen: set[str] = set()
    firsts = []
    for event in events:
        if str(event.event_id) not in seen:
            seen.add(str(event.event_id))
            firsts.append(event)
    return firsts
