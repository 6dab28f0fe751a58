"""One running stack shared by the tests of a module, extra API keys for it, and SQL onto its databases."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import text

from services.devstack import DevStack, dev_keys
from shared.db import create_engine
from shared.web.auth import new_key_string, split_key
from tests.e2e.conftest import stack_config
from tests.support.infra import Broker, fresh_database_url, new_namespace


@contextmanager
def running_stack(
    workdir: Path,
    broker: Broker,
    *,
    extra_keys: dict[str, list[str]] | None = None,
    extra_env: dict[str, str] | None = None,
    services: list[str] | None = None,
) -> Iterator[DevStack]:
    """Start a stack on a fresh database and namespace; ``extra_keys`` (name → scopes) are installed
    beside the development keys, so ``stack.key(name)`` finds them."""
    config = stack_config(workdir, broker, fresh_database_url(workdir), new_namespace())
    config.extra_env.update(extra_env or {})
    if extra_keys:
        keys_file = config.var_dir.resolve() / "dev-keys.json"
        keys = dev_keys(keys_file)
        keys.extend({"name": n, "key": new_key_string(), "scopes": s} for n, s in extra_keys.items())
        keys_file.write_text(json.dumps(keys, indent=2) + "\n", encoding="utf-8")
    stack = DevStack(config)
    try:
        stack.start(services)
        yield stack
    finally:
        stack.stop()


def key_id(key: str) -> str:
    parts = split_key(key)
    assert parts is not None, "malformed API key"
    return parts[0]


def db_rows(stack: DevStack, service: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Every row a query returns from a service's own database."""
    url = stack.service_env(service)["LIENTHONG_DATABASE_URL"].replace("{service}", service)

    async def query() -> list[tuple[Any, ...]]:
        engine = create_engine(url, service)
        try:
            async with engine.connect() as conn:
                return [tuple(row) for row in (await conn.execute(text(sql), params)).all()]
        finally:
            await engine.dispose()

    return asyncio.run(query())
