from __future__ import annotations

from datetime import time
from typing import ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator

from shared.settings import ServiceSettings


class NotifySettings(ServiceSettings):
    service_name: ClassVar[str] = "notify"
    default_port: ClassVar[int] = 8004

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    mail_from: str = "Bộ phận Một cửa <motcua@lienthong.gov.vn>"

    sms_policy: Literal["unicode", "ascii"] = Field(
        default="unicode",
        description="Vietnamese SMS: full Unicode (70 characters a part, 67 in a multi-part message) or accents "
        "removed (160/153). Templates too long for sms_max_parts under it are refused at start-up.",
    )
    sms_max_parts: int = Field(
        default=4, ge=1, le=10, description="The apology carries its reason and both appointments: four parts."
    )
    sms_gateway_url: str = "http://127.0.0.1:8090/sms"
    sms_gateway_token: str = "sandbox"
    sms_receipt_secret: str = "sandbox-sms-a-secret"
    sms_b_gateway_url: str = Field(default="", description="A second SMS operator to fail over to; empty: none.")
    sms_b_gateway_token: str = "sandbox"
    sms_b_receipt_secret: str = "sandbox-sms-b-secret"
    sms_brandname: str = "MOTCUA"
    sms_slow_after_s: float = Field(
        default=5.0, gt=0, le=120, description="An SMS operator slower than this is failed over to the other."
    )
    sms_failover_cooldown_s: float = Field(default=60.0, ge=0, le=3600)
    zalo_api_url: str = Field(default="", description="Zalo ZNS API; empty: Zalo not used.")
    zalo_access_token: str = "sandbox"
    zalo_receipt_secret: str = "sandbox-zalo-secret"
    postal_api_url: str = Field(default="", description="The postal operator's order API; empty: no postal orders.")
    postal_token: str = "sandbox"
    postal_webhook_secret: str = "sandbox-postal-secret"
    provider_timeout_s: float = Field(default=10.0, gt=0, le=120)
    provider_concurrency: int = Field(default=16, ge=1, le=1000, description="Calls in flight per provider.")
    provider_rate_per_s: float = Field(default=100.0, gt=0, description="Calls a second per provider.")
    sending_timeout_s: float = Field(
        default=300.0,
        gt=0,
        le=86_400,
        description="A notification left 'sending' this long (the process died mid-call) is reconciled with "
        "the provider: recorded as sent if the provider has it, else tried again.",
    )
    quiet_hours_start: time = Field(default=time(21, 0), description="Non-urgent SMS and Zalo wait from here…")
    quiet_hours_end: time = Field(default=time(7, 0), description="…to here (Vietnam time). Equal: no quiet hours.")
    sender_poll_interval_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="How often the sender and the postal worker look for due work nobody rang them for: "
        "retries coming due, rows another instance made. New work rings them at once.",
    )
    sender_batch_size: int = Field(default=100, ge=1, le=5000)
    tracking_base_url: str = "http://127.0.0.1:8001/track"
    unit_contacts_file: str = Field(
        default="", description="YAML: unit code → {email, phone} for unit and desk alerts; empty: the sample."
    )
    back_dated_after_h: float = Field(
        default=24,
        gt=0,
        description="Events recorded more than this many hours after they happened (legacy imports) "
        "send the citizen nothing.",
    )

    @model_validator(mode="after")
    def _real_operators_need_real_secrets(self) -> NotifySettings:
        """A sandbox secret is public: a real operator's receipts signed with it could be forged by anyone."""
        pairs = [
            ("sms_gateway_url", "sms_receipt_secret"),
            ("sms_b_gateway_url", "sms_b_receipt_secret"),
            ("zalo_api_url", "zalo_receipt_secret"),
            ("postal_api_url", "postal_webhook_secret"),
        ]
        for url_field, secret_field in pairs:
            url, secret = getattr(self, url_field), getattr(self, secret_field)
            if url and secret.startswith("sandbox-") and not _is_sandbox(url):
                raise ValueError(
                    f"LIENTHONG_NOTIFY_{secret_field.upper()} must be set (not the sandbox's) for the operator at {url}"
                )
        return self


def _is_sandbox(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in {"127.0.0.1", "localhost", "::1"} or "sandbox" in host
