"""The four services by name: how to build each one's app and settings."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI

from shared.settings import ServiceSettings


@dataclass(frozen=True)
class ServiceEntry:
    name: str
    module: str
    settings_class: str

    def settings_type(self) -> type[ServiceSettings]:
        mod, _, cls = self.settings_class.rpartition(".")
        settings_type: type[ServiceSettings] = getattr(importlib.import_module(mod), cls)
        return settings_type

    def app_factory(self) -> Callable[..., FastAPI]:
        factory: Callable[..., FastAPI] = importlib.import_module(self.module).create_app
        return factory


SERVICES: dict[str, ServiceEntry] = {
    e.name: e
    for e in (
        ServiceEntry("intake", "services.intake.main", "services.intake.settings.IntakeSettings"),
        ServiceEntry("routing", "services.routing.main", "services.routing.settings.RoutingSettings"),
        ServiceEntry("sla", "services.sla.main", "services.sla.settings.SlaSettings"),
        ServiceEntry("notify", "services.notify.main", "services.notify.settings.NotifySettings"),
    )
}
