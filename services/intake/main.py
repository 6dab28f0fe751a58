"""intake's app factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.intake.api import router
from services.intake.settings import IntakeSettings
from shared.runtime import ServiceSpec, create_service_app

MIGRATIONS = Path(__file__).parent / "migrations" / "versions"


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    return create_service_app(
        ServiceSpec(
            name="intake",
            title="lienthong intake",
            description="Dossier intake for public-service portals and one-stop desks (Bộ phận Một cửa).",
            settings=settings or IntakeSettings.load(),
            migrations=MIGRATIONS,
            routers=[router],
        )
    )
