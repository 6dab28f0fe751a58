"""intake's app factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.intake.api import router
from services.intake.catalog_api import router as catalog_router
from services.intake.directory import CatalogDirectory
from services.intake.documents_api import router as documents_router
from services.intake.filing import Filing
from services.intake.handlers import handlers
from services.intake.metrics import count_filings
from services.intake.settings import IntakeSettings
from shared.catalog import default_catalog_dir, load_catalog
from shared.events.topics import consumed_by
from shared.runtime import Runtime, ServiceSpec, create_service_app
from shared.web.openapi_links import document_links

MIGRATIONS = Path(__file__).parent / "migrations" / "versions"


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    s = settings or IntakeSettings.load()
    catalog = load_catalog(Path(s.catalog_dir) if s.catalog_dir else default_catalog_dir())
    filing = Filing(CatalogDirectory(catalog), s.working_calendar(catalog.calendar_overrides))

    async def setup(runtime: Runtime) -> None:
        runtime.state["filing"] = filing
        runtime.state["catalog"] = catalog

    app = create_service_app(
        ServiceSpec(
            name="intake",
            title="lienthong intake",
            description="Dossier intake for public-service portals and one-stop desks (Bộ phận Một cửa).",
            settings=s,
            migrations=MIGRATIONS,
            routers=[router, catalog_router, documents_router],
            consumes=consumed_by("intake"),
            handlers=handlers,
            setup=setup,
            on_committed=count_filings,
        )
    )
    document_links(app, path="/v1/dossiers", method="post", status="201", parameter="code")
    return app
