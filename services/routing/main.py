"""routing's app factory."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from services.routing.actions_api import router as actions_router
from services.routing.api import router
from services.routing.connector import Connector, ExternalSystems
from services.routing.context import STATE_KEY, Routing
from services.routing.external_api import router as external_router
from services.routing.handlers import build_handlers
from services.routing.inbox_api import router as inbox_router
from services.routing.settings import RoutingSettings
from shared.db import is_sqlite
from shared.events.topics import consumed_by
from shared.runtime import Runtime, ServiceSpec, create_service_app

MIGRATIONS = Path(__file__).parent / "migrations" / "versions"


def create_app(settings: RoutingSettings | None = None, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """``transport`` is the external systems' HTTP seam (httpx's); the default is the network."""
    s = settings or RoutingSettings.load()
    routing = Routing.load(s)
    systems = ExternalSystems(
        s.external_urls, s.external_secret.get_secret_value(), timeout=s.connector_timeout_s, transport=transport
    )

    async def setup(runtime: Runtime) -> None:
        runtime.state[STATE_KEY] = routing

    async def connect_external_systems(runtime: Runtime) -> None:
        connector = Connector(runtime.units, routing, systems, s, use_skip_locked=not is_sqlite(runtime.engine))
        await connector.run()

    async def close_connections(_: Runtime) -> None:
        await systems.close()

    return create_service_app(
        ServiceSpec(
            name="routing",
            title="lienthong routing",
            description="Routes interconnected dossiers between units, takes the agencies' actions on their "
            "steps, hands external steps to their systems (signed, acknowledged by signed callbacks) and keeps "
            "the handover log (the process control slip).",
            settings=s,
            migrations=MIGRATIONS,
            routers=[router, inbox_router, actions_router, external_router],
            consumes=consumed_by("routing"),
            handlers=build_handlers(routing),
            workers=[connect_external_systems],
            setup=setup,
            teardown=close_connections,
        )
    )
