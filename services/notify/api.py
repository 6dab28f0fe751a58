"""notify's HTTP API."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlmodel import col, select

from services.notify.tables import Notification, NotificationEvent
from shared.web.auth import require_any
from shared.web.deps import SessionDep

router = APIRouter(prefix="/v1", tags=["notifications"])
CanRead = require_any("read", prefixes=("desk:",))


class StatusChange(BaseModel):
    status: str
    at: datetime
    detail: str | None


class NotificationPublic(BaseModel):
    id: str
    dossier_code: str
    channel: str
    recipient: str
    template: str
    template_version: int
    subject: str | None
    body: str
    status: str
    provider_reference: str | None
    attempts: int
    created_at: datetime
    history: list[StatusChange]


class NotificationList(BaseModel):
    items: list[NotificationPublic]


@router.get(
    "/notifications",
    response_model=NotificationList,
    dependencies=[CanRead],
    summary="A dossier's notifications, oldest first",
)
async def list_notifications(
    session: SessionDep, dossier_code: str = Query(min_length=1, max_length=64)
) -> NotificationList:
    rows = (
        await session.exec(
            select(Notification)
            .where(Notification.dossier_code == dossier_code)
            .order_by(col(Notification.created_at), col(Notification.channel))
        )
    ).all()
    ids = [n.id for n in rows]
    history: dict[str, list[StatusChange]] = {i: [] for i in ids}
    if ids:
        events = (
            await session.exec(
                select(NotificationEvent)
                .where(col(NotificationEvent.notification_id).in_(ids))
                .order_by(col(NotificationEvent.id))
            )
        ).all()
        for e in events:
            history[e.notification_id].append(StatusChange(status=e.status, at=e.at, detail=e.detail))
    return NotificationList(
        items=[
            NotificationPublic(
                id=n.id,
                dossier_code=n.dossier_code,
                channel=n.channel,
                recipient=n.recipient,
                template=n.template,
                template_version=n.template_version,
                subject=n.subject,
                body=n.body,
                status=n.status,
                provider_reference=n.provider_reference,
                attempts=n.attempts,
                created_at=n.created_at,
                history=history[n.id],
            )
            for n in rows
        ]
    )
