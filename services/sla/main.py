"""sla's app factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.sla.api import router
from services.sla.handlers import handlers
from services.sla.settings import SlaSettings
from shared.events.topics import INTAKE_DOSSIER, ROUTING_STEP
from shared.runtime import ServiceSpec, create_service_app

MIGRATIONS = Path(__file__).parent / "migrations" / "versions"


def create_app(settings: SlaSettings | None = None) -> FastAPI:
    return create_service_app(
        ServiceSpec(
            name="sla",
            title="lienthong sla",
            description="Working-time clocks, warnings, delay attribution and reports.",
            settings=settings or SlaSettings.load(),
            migrations=MIGRATIONS,
            routers=[router],
            consumes=[INTAKE_DOSSIER.name, ROUTING_STEP.name],
            handlers=handlers,
        )
    )
