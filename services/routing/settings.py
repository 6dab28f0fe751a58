from __future__ import annotations

from typing import ClassVar

from shared.settings import ServiceSettings


class RoutingSettings(ServiceSettings):
    service_name: ClassVar[str] = "routing"
    default_port: ClassVar[int] = 8002
