"""Notify's metrics: what the ops team watches on the Thông báo dashboard."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import Counter, Gauge
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notify.domain import Channel
from services.notify.tables import Notification, PostalOrder

TRANSITIONS = Counter(
    "lienthong_notify_notifications_total",
    "Notifications entering a status, by channel and template.",
    ["channel", "template", "status"],
)
NOTIFICATIONS = Gauge(
    "lienthong_notify_notifications_in_status",
    "Notifications now in each status, by channel and template (recounted).",
    ["channel", "template", "status"],
)
RETRY_BACKLOG = Gauge(
    "lienthong_notify_retry_backlog",
    "Notifications waiting for another attempt (temporary failures and those held by quiet hours), by channel.",
    ["channel"],
)
OLDEST_DUE_AGE = Gauge(
    "lienthong_notify_oldest_due_seconds", "Age of the oldest notification due and not yet sent (0: none)."
)
POSTAL_ORDERS = Gauge("lienthong_notify_postal_orders", "Postal orders now in each status.", ["kind", "status"])
RECEIPTS = Counter(
    "lienthong_notify_receipts_total",
    "Receipts and webhooks from providers, by what was made of them.",
    ["provider", "outcome"],
)


async def recount(session: AsyncSession) -> None:
    rows = (
        await session.exec(
            select(Notification.channel, Notification.template, Notification.status, func.count()).group_by(
                col(Notification.channel), col(Notification.template), col(Notification.status)
            )
        )
    ).all()
    NOTIFICATIONS.clear()
    for channel, template, status, count in rows:
        NOTIFICATIONS.labels(channel, template, status).set(count)
    now = datetime.now(UTC)
    backlog = (
        await session.exec(
            select(Notification.channel, func.count())
            .where(
                col(Notification.status).in_(["temporary-failure", "created"]), col(Notification.next_attempt_at) > now
            )
            .group_by(col(Notification.channel))
        )
    ).all()
    waiting = dict(backlog)
    for channel in Channel:  # every channel, 0 included: the panel shows an empty backlog as 0
        RETRY_BACKLOG.labels(channel.value).set(waiting.get(channel.value, 0))
    oldest = (
        await session.exec(
            select(func.min(Notification.next_attempt_at)).where(
                col(Notification.status).in_(["temporary-failure", "created"]), col(Notification.next_attempt_at) <= now
            )
        )
    ).one()
    OLDEST_DUE_AGE.set((now - oldest).total_seconds() if oldest is not None else 0)
    postal = (
        await session.exec(
            select(PostalOrder.kind, PostalOrder.status, func.count()).group_by(
                col(PostalOrder.kind), col(PostalOrder.status)
            )
        )
    ).all()
    POSTAL_ORDERS.clear()
    for kind, status, count in postal:
        POSTAL_ORDERS.labels(kind, status).set(count)
