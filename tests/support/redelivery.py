"""Redelivering a dossier's events exactly as they were (same bytes, key and headers, so the same ids), to
prove that consumers' effects happen once."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.devstack import DevStack


def republish(stack: DevStack, topics: list[str], code: str) -> int:
    """Read every record of the dossier from ``topics`` and produce it again, byte for byte."""
    namespace = stack.config.kafka_namespace
    names = [f"{namespace}{t}" for t in topics]

    async def run() -> int:
        consumer = AIOKafkaConsumer(
            *names, bootstrap_servers=stack.config.bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
        )
        await consumer.start()
        records: list[Any] = []
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=2000)
                if not batch:
                    break
                for rs in batch.values():
                    records.extend(r for r in rs if r.key == code.encode())
        finally:
            await consumer.stop()
        producer = AIOKafkaProducer(bootstrap_servers=stack.config.bootstrap)
        await producer.start()
        try:
            for r in records:
                await producer.send_and_wait(r.topic, r.value, key=r.key, headers=list(r.headers))
        finally:
            await producer.stop()
        return len(records)

    return asyncio.run(run())
