"""What routing's handlers and API share at run time: the catalogue and the working calendar."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Request

from services.routing.settings import RoutingSettings
from shared.calendar import WorkingCalendar
from shared.catalog import Catalog, default_catalog_dir, load_catalog
from shared.doorbell import Doorbell

STATE_KEY = "routing"


@dataclass(frozen=True)
class ExternalHandovers:
    """What a handover to an external system needs when it is written: the acknowledgement window (working
    minutes) and where the system calls back."""

    ack_window_minutes: int = 120
    callback_base_url: str = "http://127.0.0.1:8002"
    secret: str = field(default="", repr=False)  # verifies the external systems' signed callbacks

    @property
    def acknowledgement_url(self) -> str:
        return f"{self.callback_base_url}/v1/external/acknowledgements"

    @property
    def completion_url(self) -> str:
        return f"{self.callback_base_url}/v1/external/completions"


@dataclass(frozen=True)
class Routing:
    catalog: Catalog
    calendar: WorkingCalendar
    external: ExternalHandovers = field(default_factory=ExternalHandovers)
    deliveries_due: Doorbell = field(default_factory=Doorbell, compare=False)
    """Rung when a handover to an external system is queued: the connector sends it without waiting to poll."""

    @classmethod
    def load(cls, settings: RoutingSettings) -> Routing:
        """The catalogue as intake loads it, and the calendar with its overrides."""
        catalog = load_catalog(Path(settings.catalog_dir) if settings.catalog_dir else default_catalog_dir())
        external = ExternalHandovers(
            settings.external_ack_window_minutes, settings.callback_base, settings.external_secret.get_secret_value()
        )
        return cls(catalog, settings.working_calendar(catalog.calendar_overrides), external)

    def unit_name(self, code: str | None) -> str | None:
        if code is None:
            return None
        try:
            return self.catalog.unit(code).name
        except KeyError:
            return None


def routing_of(request: Request) -> Routing:
    routing: Routing = request.app.state.runtime.state[STATE_KEY]
    return routing
