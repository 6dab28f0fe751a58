"""notify's app factory."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from services.notify.api import router
from services.notify.domain import Channel
from services.notify.handlers import build_handlers
from services.notify.providers import HttpSmsProvider, Provider, SmtpEmailProvider
from services.notify.sender import Sender
from services.notify.settings import NotifySettings
from shared.db import is_sqlite
from shared.events.topics import INTAKE_DOSSIER
from shared.runtime import Runtime, ServiceSpec, create_service_app

MIGRATIONS = Path(__file__).parent / "migrations" / "versions"


def create_app(settings: NotifySettings | None = None) -> FastAPI:
    s = settings or NotifySettings.load()
    sms = HttpSmsProvider(s.sms_gateway_url, s.sms_gateway_token, s.sms_brandname, timeout=s.provider_timeout_s)
    providers: dict[Channel, Provider] = {
        Channel.EMAIL: SmtpEmailProvider(
            s.smtp_host,
            s.smtp_port,
            s.mail_from,
            username=s.smtp_username,
            password=s.smtp_password,
            starttls=s.smtp_starttls,
            timeout=s.provider_timeout_s,
        ),
        Channel.SMS: sms,
    }

    async def send_notifications(runtime: Runtime) -> None:
        sender = Sender(
            runtime.units,
            providers,
            poll_interval=s.sender_poll_interval_s,
            use_skip_locked=not is_sqlite(runtime.engine),
        )
        await sender.run()

    async def close_providers(_: Runtime) -> None:
        await sms.close()

    return create_service_app(
        ServiceSpec(
            name="notify",
            title="lienthong notify",
            description="Citizen notifications (SMS, email) and postal orders, each sent exactly once.",
            settings=s,
            migrations=MIGRATIONS,
            routers=[router],
            consumes=[INTAKE_DOSSIER.name],
            handlers=build_handlers(s.tracking_base_url, timedelta(hours=s.back_dated_after_h)),
            workers=[send_notifications],
            teardown=close_providers,
        )
    )
