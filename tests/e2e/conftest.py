from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.devstack import DevStack, StackConfig, free_port
from tests.support.infra import Broker


def stack_config(tmp_path: Path, broker: Broker, database_url: str, namespace: str) -> StackConfig:
    return StackConfig(
        var_dir=tmp_path / "var",
        ports={name: free_port() for name in ("intake", "routing", "sla", "notify")},
        smtp_port=free_port(),
        gateway_port=free_port(),
        kafka_bootstrap=broker.bootstrap,
        kafka_idempotent=broker.idempotent,
        database_url=database_url,
        kafka_namespace=namespace,
        # No quiet hours unless a test sets them: the suite runs at any hour.
        extra_env={"LIENTHONG_NOTIFY_QUIET_HOURS_START": "00:00", "LIENTHONG_NOTIFY_QUIET_HOURS_END": "00:00"},
    )


@pytest.fixture
def stack_config_for(tmp_path: Path, broker: Broker, database_url: str, namespace: str) -> StackConfig:
    return stack_config(tmp_path, broker, database_url, namespace)


@pytest.fixture
def stack(stack_config_for: StackConfig) -> Iterator[DevStack]:
    s = DevStack(stack_config_for)
    try:
        s.start()
        yield s
    finally:
        s.stop()


def client(stack: DevStack, service: str, key: str | None = None) -> httpx.Client:
    return httpx.Client(
        base_url=stack.config.url(service),
        headers={"Authorization": f"Bearer {key or stack.admin_key}"},
        timeout=30,
    )
