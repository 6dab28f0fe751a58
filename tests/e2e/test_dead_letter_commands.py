"""The operator's path: a poison message on a running service, listed and replayed with the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from services.devstack import DevStack
from tests.e2e.test_walking_skeleton import post_dossier
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e


def cli(stack: DevStack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **stack.service_env("routing")}
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args], env=env, capture_output=True, text=True, timeout=60, check=True
    )


def dead_letters(stack: DevStack, *extra: str) -> list[dict[str, Any]]:
    letters: list[dict[str, Any]] = json.loads(
        cli(stack, "dead-letters", "list", "--service", "routing", "--json", *extra).stdout
    )
    return letters


def test_a_poison_message_is_listed_and_replayed_from_the_command_line(stack: DevStack) -> None:
    async def publish() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=stack.config.bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(
                f"{stack.config.kafka_namespace}intake.dossier.v1",
                key=b"H56.14-261122-0999",
                value=b'{"type": "dossier.accepted"}',
            )
        finally:
            await producer.stop()

    asyncio.run(publish())
    letters = wait_until(lambda: dead_letters(stack), 60, "routing to dead-letter the poison message")
    assert len(letters) == 1
    assert letters[0]["topic"] == "intake.dossier.v1" and letters[0]["key"] == "H56.14-261122-0999"
    assert letters[0]["error"].startswith("not an event envelope")

    code = post_dossier(stack)  # the partition moved on
    wait_until(
        lambda: cli(stack, "dead-letters", "list", "--service", "routing").stdout.startswith("#"),
        10,
        "the human-readable listing",
    )

    replayed = cli(stack, "dead-letters", "replay", "--service", "routing", "--all")
    assert replayed.stdout.strip() == f"replayed 1 dead letter(s) to routing: [{letters[0]['id']}]"

    def failed_again() -> list[dict[str, Any]]:
        return [d for d in dead_letters(stack) if d["id"] != letters[0]["id"]]

    again = wait_until(failed_again, 60, "the replayed garbage to come back as a new dead letter")
    assert again[0]["topic"] == "replay.routing.v1"
    assert len(dead_letters(stack, "--all")) == 2
    assert code
