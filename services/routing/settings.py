from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr

from shared.settings import ServiceSettings

SANDBOX_EXTERNAL_URL = "http://127.0.0.1:8091"
EXTERNAL_SYSTEMS = ("land_registry", "tax", "residence", "social_insurance")


class RoutingSettings(ServiceSettings):
    service_name: ClassVar[str] = "routing"
    default_port: ClassVar[int] = 8002

    external_urls: dict[str, str] = Field(
        default_factory=lambda: {s: f"{SANDBOX_EXTERNAL_URL}/systems/{s}/handovers" for s in EXTERNAL_SYSTEMS},
        description='Where each external system takes handovers, as JSON: {"land_registry": "https://…", '
        '"tax": "https://…"}. Default: the sandbox external systems of `make run`.',
    )
    external_secret: SecretStr = Field(
        default=SecretStr("sandbox-external-secret"),
        min_length=16,
        description="Shared secret signing handovers to external systems and their callbacks (HMAC-SHA256).",
    )
    external_ack_window_minutes: int = Field(
        default=120,
        ge=0,
        le=4800,
        description="Working minutes an external system has to acknowledge a handover before "
        "handover.unacknowledged is published (counted in working time from the handover).",
    )
    callback_base_url: str = Field(
        default="", description="Routing's base URL as external systems reach it; default http://host:port."
    )
    connector_timeout_s: float = Field(default=10.0, gt=0, le=120)
    connector_poll_interval_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="How often the connector looks for retries coming due and acknowledgements overdue; a newly "
        "queued handover rings it at once.",
    )
    connector_backoff_initial_s: float = Field(default=5.0, gt=0, le=3600)
    connector_backoff_max_s: float = Field(default=600.0, gt=0, le=86_400)
    connector_max_failures: int = Field(
        default=30, ge=1, le=10_000, description="Failures in a row (5xx, timeouts) before a dead letter."
    )
    connector_batch_size: int = Field(default=50, ge=1, le=1000)

    @property
    def callback_base(self) -> str:
        return (self.callback_base_url or f"http://{self.host}:{self.listen_port}").rstrip("/")
