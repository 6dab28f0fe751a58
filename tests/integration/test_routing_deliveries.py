"""A handover queued for an external system rings the connector once its transaction commits, so the connector
sends it at once rather than at its next poll; a queued handover that is rolled back rings nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from services.routing.context import Routing
from services.routing.deliveries import open_delivery
from services.routing.main import MIGRATIONS
from services.routing.settings import RoutingSettings
from services.routing.tables import Handover, HandoverDelivery, Step
from shared.bus.unit_of_work import UnitOfWorkFactory
from shared.db import create_engine, migrate, session_maker

pytestmark = pytest.mark.integration


@pytest.fixture
async def units(database_url: str) -> AsyncIterator[UnitOfWorkFactory]:
    engine = create_engine(database_url.format(service="routing"), "routing")
    await migrate(engine, "routing", MIGRATIONS)
    yield UnitOfWorkFactory(session_maker(engine))
    await engine.dispose()


def external_step(code: str) -> tuple[Step, Handover]:
    now = datetime.now(UTC)
    step = Step(
        id=str(uuid.uuid4()),
        dossier_code=code,
        seq=3,
        unit_code="H56.VPDK",
        status="assigned",
        external=True,
        external_system="vilis",
        attempt=1,
        assigned_at=now,
    )
    handover = Handover(
        id=str(uuid.uuid4()),
        dossier_code=code,
        n=3,
        step_id=step.id,
        seq=3,
        attempt=1,
        kind="forward",
        to_unit_code="H56.VPDK",
        handed_over_at=now,
    )
    return step, handover


async def test_a_queued_handover_rings_the_connector_after_commit_and_not_after_a_rollback(
    units: UnitOfWorkFactory,
) -> None:
    routing = Routing.load(RoutingSettings())

    with pytest.raises(RuntimeError, match="rolled back"):
        async with units() as uow:
            await open_delivery(uow, routing, *external_step("H56.101-261203-0001"))
            raise RuntimeError("rolled back")
    assert await routing.deliveries_due.wait(timeout=0.01) is False

    async with units() as uow:
        await open_delivery(uow, routing, *external_step("H56.101-261203-0002"))
    assert await routing.deliveries_due.wait(timeout=30) is True
    async with units() as uow:
        queued = (await uow.session.exec(select(HandoverDelivery))).all()
    assert [d.dossier_code for d in queued] == ["H56.101-261203-0002"]
