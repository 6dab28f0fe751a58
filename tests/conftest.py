"""Fixtures shared by every test: the real broker and a fresh database per test that needs one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.infra import Broker, drop_created_databases, fresh_database_url, new_namespace, start_broker


@pytest.fixture(scope="session", autouse=True)
def _drop_postgres_databases_at_the_end() -> Iterator[None]:
    yield
    drop_created_databases()


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lienthong")


@pytest.fixture(scope="session")
def broker(workdir: Path) -> Iterator[Broker]:
    b = start_broker(workdir)
    yield b
    if not b.external:
        b.terminate()


@pytest.fixture
def namespace() -> str:
    return new_namespace()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return fresh_database_url(tmp_path)
