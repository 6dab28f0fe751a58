"""Helpers for notify's end-to-end tests: its API, the sandbox operators, and re-publishing a dossier's
events exactly as they were (same ids) to prove redelivery changes nothing."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.devstack import DevStack
from tests.e2e.conftest import client
from tests.support.dossier_api import ok


def notifications(stack: DevStack, code: str, audience: str | None = "citizen") -> list[dict[str, Any]]:
    with client(stack, "notify") as c:
        items: list[dict[str, Any]] = ok(c.get("/v1/notifications", params={"dossier_code": code}))["items"]
    return [n for n in items if audience is None or n["audience"] == audience]


def postal_orders(stack: DevStack, code: str) -> list[dict[str, Any]]:
    with client(stack, "notify") as c:
        items: list[dict[str, Any]] = ok(c.get("/v1/postal-orders", params={"dossier_code": code}))["items"]
    return items


def sandbox_get(stack: DevStack, path: str, **params: Any) -> Any:
    return httpx.get(f"{stack.config.gateway_url}{path}", params=params, timeout=10).json()


def sandbox_post(stack: DevStack, path: str, body: dict[str, Any]) -> Any:
    response = httpx.post(f"{stack.config.gateway_url}{path}", json=body, timeout=30)
    assert response.status_code < 300, f"{path}: {response.status_code} {response.text}"
    return response.json()


def metric(stack: DevStack, service: str, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include ``labels``."""
    text = httpx.get(f"{stack.config.url(service)}/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


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
