from __future__ import annotations

from typing import ClassVar

from pydantic import Field

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
    sms_gateway_url: str = "http://127.0.0.1:8090/sms"
    sms_gateway_token: str = "sandbox"
    sms_brandname: str = "MOTCUA"
    provider_timeout_s: float = Field(default=10.0, gt=0, le=120)
    sender_poll_interval_s: float = Field(default=0.2, gt=0, le=60)
    tracking_base_url: str = "http://127.0.0.1:8001/track"
    back_dated_after_h: float = Field(
        default=24,
        gt=0,
        description="Events recorded more than this many hours after they happened (legacy imports) "
        "send the citizen nothing.",
    )
