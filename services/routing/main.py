"""routing's app factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.routing.api import router
from services.routing.handlers import handlers
from services.routing.settings import RoutingSettings
from shared.events.topics import INTAKE_DOSSIER
from shared.runtime import ServiceSpec, create_service_app

MIGRATIONS = Path(__file__).parent / "migrations" / "versions"


def create_app(settings: RoutingSettings | None = None) -> FastAPI:
    return create_service_app(
        ServiceSpec(
            name="routing",
            title="lienthong routing",
            description="Routes interconnected dossiers between units and keeps the handover log.",
            settings=settings or RoutingSettings.load(),
            migrations=MIGRATIONS,
            routers=[router],
            consumes=[INTAKE_DOSSIER.name],
            handlers=handlers,
        )
    )
