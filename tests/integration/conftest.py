from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.bus import BusHarness
from tests.support.infra import Broker


@pytest.fixture
async def bus(database_url: str, broker: Broker, namespace: str) -> AsyncIterator[BusHarness]:
    harness = BusHarness(database_url, broker.bootstrap, namespace, broker.idempotent)
    await harness.setup()
    yield harness
    await harness.close()
