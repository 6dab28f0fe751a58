"""routing's app factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.routing.actions_api import router as actions_router
from services.routing.api import router
from services.routing.context import STATE_KEY, Routing
from services.routing.handlers import build_handlers
from services.routing.inbox_api import router as inbox_router
from services.routing.settings import RoutingSettings
from shared.events.topics import INTAKE_DOSSIER
from shared.runtime import Runtime, ServiceSpec, create_service_app

MIGRATIONS = Path(__file__).parent / "migrations" / "versions"


def create_app(settings: RoutingSettings | None = None) -> FastAPI:
    s = settings or RoutingSettings.load()
    routing = Routing.load(s)

    async def setup(runtime: Runtime) -> None:
        runtime.state[STATE_KEY] = routing

    return create_service_app(
        ServiceSpec(
            name="routing",
            title="lienthong routing",
            description="Routes interconnected dossiers between units, takes the agencies' actions on their "
            "steps and keeps the handover log (the process control slip).",
            settings=s,
            migrations=MIGRATIONS,
            routers=[router, inbox_router, actions_router],
            consumes=[INTAKE_DOSSIER.name],
            handlers=build_handlers(routing),
            setup=setup,
        )
    )
