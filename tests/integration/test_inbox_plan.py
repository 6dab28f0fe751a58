"""The inbox query reads a unit's open steps in index order on SQLite (no sort of the whole inbox),
and states the partial index's predicate exactly as the migration wrote it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bench.inbox_bench import explain, index_backed, sorts
from services.routing.inbox_api import inbox_query
from services.routing.lifecycle import OPEN
from services.routing.main import MIGRATIONS
from services.routing.schemas import OpenStatus
from services.routing.tables import OPEN_STEPS
from shared.db import create_engine, migrate


def test_partial_index_predicate_names_every_open_status() -> None:
    listed = {part.strip().strip("'") for part in OPEN_STEPS.split("(", 1)[1].rstrip(")").split(",")}
    assert listed == {s.value for s in OPEN}


async def test_inbox_pages_read_the_open_steps_index_without_sorting(database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's plan depends on its statistics; bench/inbox_bench.py shows it on 1.1M steps")
    url = database_url.format(service="routing")
    engine = create_engine(url, "routing")
    try:
        await migrate(engine, "routing", MIGRATIONS)
    finally:
        await engine.dispose()
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    plans = await explain(
        url,
        {
            "first": inbox_query("U1", now, None, None, None, 50),
            "next": inbox_query("U1", now, None, None, (now, "b"), 50),
            "overdue": inbox_query("U1", now, None, True, (now, "b"), 50),
            "one status": inbox_query("U1", now, OpenStatus("accepted"), None, (now, "b"), 50),
        },
    )
    for name, lines in plans.items():
        assert index_backed(lines), (name, lines)
        assert not sorts(lines), (name, lines)
    assert any("ix_step_open_inbox" in line for line in plans["first"])
    assert any("ix_step_open_inbox" in line and "(assigned_at,id)>" in line for line in plans["next"])
