"""sla's app factory."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from fastapi import FastAPI

from services.sla.api import router
from services.sla.context import STATE_KEY, Sla
from services.sla.handlers import build_handlers
from services.sla.metrics import refresh_gauges
from services.sla.report_api import router as report_router
from services.sla.settings import SlaSettings
from services.sla.slips_api import router as slips_router
from services.sla.sweep import Sweeper
from shared.db import is_sqlite
from shared.events.topics import consumed_by
from shared.runtime import Runtime, ServiceSpec, create_service_app

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations" / "versions"


def create_app(settings: SlaSettings | None = None) -> FastAPI:
    s = settings or SlaSettings.load()
    sla = Sla.load(s)

    async def setup(runtime: Runtime) -> None:
        runtime.state[STATE_KEY] = sla

    async def sweep_timers(runtime: Runtime) -> None:
        sweeper = Sweeper(
            runtime.units, sla, s.sweep_batch_size, s.sweep_interval_s, skip_locked=not is_sqlite(runtime.engine)
        )
        await sweeper.run()

    async def count_for_gauges(runtime: Runtime) -> None:
        while True:
            try:
                async with runtime.sessions() as session:
                    await refresh_gauges(session, sla.calendar, sla.policy.step_notice_minutes)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sla gauges: recount failed")
            await asyncio.sleep(s.gauge_interval_s)

    return create_service_app(
        ServiceSpec(
            name="sla",
            title="lienthong sla",
            description="Working-time clocks of dossiers and steps, warnings before deadlines, overdue flags, "
            "delay attribution (unit and level, citizen, interconnection), apologies and reports.",
            settings=s,
            migrations=MIGRATIONS,
            routers=[router, slips_router, report_router],
            consumes=consumed_by("sla"),
            handlers=build_handlers(sla),
            workers=[sweep_timers, count_for_gauges],
            setup=setup,
        )
    )
