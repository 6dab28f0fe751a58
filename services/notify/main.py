"""notify's app factory: providers wired from settings, the sender, the postal worker and the gauges."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from services.notify.api import router
from services.notify.context import STATE_KEY, Notify
from services.notify.domain import Channel
from services.notify.handlers import build_handlers
from services.notify.metrics import recount
from services.notify.postal import PostalWorker
from services.notify.providers import (
    FailoverProvider,
    HttpSmsProvider,
    PostalClient,
    Provider,
    SmtpEmailProvider,
    Throttled,
    ZaloZnsProvider,
)
from services.notify.sender import Sender
from services.notify.settings import NotifySettings
from services.notify.webhooks_api import router as webhooks_router
from shared.db import is_sqlite
from shared.events.topics import consumed_by
from shared.runtime import Runtime, ServiceSpec, create_service_app

MIGRATIONS = Path(__file__).parent / "migrations" / "versions"
log = logging.getLogger(__name__)


def build_providers(s: NotifySettings) -> dict[Channel, Provider]:
    """One provider per channel, each throttled; SMS fails over to the second operator when one is set."""
    timeout = s.provider_timeout_s
    sms: list[Provider] = [
        HttpSmsProvider("sms-a", s.sms_gateway_url, s.sms_gateway_token, s.sms_brandname, timeout=timeout)
    ]
    if s.sms_b_gateway_url:
        sms.append(
            HttpSmsProvider("sms-b", s.sms_b_gateway_url, s.sms_b_gateway_token, s.sms_brandname, timeout=timeout)
        )
    raw: dict[Channel, Provider] = {
        Channel.EMAIL: SmtpEmailProvider(
            s.smtp_host,
            s.smtp_port,
            s.mail_from,
            username=s.smtp_username,
            password=s.smtp_password,
            starttls=s.smtp_starttls,
            timeout=timeout,
        ),
        Channel.SMS: FailoverProvider(sms, slow_after_s=s.sms_slow_after_s, cooldown_s=s.sms_failover_cooldown_s)
        if len(sms) > 1
        else sms[0],
    }
    if s.zalo_api_url:
        raw[Channel.ZALO] = ZaloZnsProvider("zalo", s.zalo_api_url, s.zalo_access_token, timeout=timeout)
    return {
        channel: Throttled(p, concurrency=s.provider_concurrency, rate_per_s=s.provider_rate_per_s)
        for channel, p in raw.items()
    }


def create_app(settings: NotifySettings | None = None) -> FastAPI:
    s = settings or NotifySettings.load()
    notify = Notify.load(s)  # templates are checked here: a bad one stops the service at start-up
    providers = build_providers(s)
    postal = PostalClient(s.postal_api_url, s.postal_token, timeout=s.provider_timeout_s) if s.postal_api_url else None

    async def setup(runtime: Runtime) -> None:
        runtime.state[STATE_KEY] = notify

    async def send_notifications(runtime: Runtime) -> None:
        sender = Sender(
            runtime.units,
            providers,
            notify,
            poll_interval=s.sender_poll_interval_s,
            sending_timeout=timedelta(seconds=s.sending_timeout_s),
            batch_size=s.sender_batch_size,
            use_skip_locked=not is_sqlite(runtime.engine),
        )
        await sender.run()

    async def place_postal_orders(runtime: Runtime) -> None:
        if postal is None:
            return
        await PostalWorker(runtime.units, notify, postal, poll_interval=s.sender_poll_interval_s).run()

    async def recount_gauges(runtime: Runtime) -> None:
        while True:
            with suppress(Exception):
                async with runtime.sessions() as session:
                    await recount(session)
            await asyncio.sleep(15)

    async def close_providers(_: Runtime) -> None:
        for p in providers.values():
            await p.close()
        if postal is not None:
            await postal.close()

    return create_service_app(
        ServiceSpec(
            name="notify",
            title="lienthong notify",
            description="Citizen notifications (SMS, Zalo, email), unit alerts and postal orders, each exactly once.",
            settings=s,
            migrations=MIGRATIONS,
            routers=[router, webhooks_router],
            consumes=consumed_by("notify"),
            handlers=build_handlers(notify),
            workers=[send_notifications, place_postal_orders, recount_gauges],
            setup=setup,
            teardown=close_providers,
        )
    )
