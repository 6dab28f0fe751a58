"""A message that failed for good goes on the citizen's next allowed channel (SMS → Zalo → email)."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from sqlmodel import select

from services.notify.context import Notify
from services.notify.domain import Audience, Channel, fallback_delivery
from services.notify.notifications import contact_of, create_notification, decode_data, offered, opted_out
from services.notify.tables import DossierContact, Notification
from shared.bus.unit_of_work import UnitOfWork
from shared.events import new_envelope
from shared.events.delivery import NotificationFailed

log = logging.getLogger(__name__)


async def fall_back(uow: UnitOfWork, notify: Notify, failed: Notification, reason: str, now: datetime) -> None:
    """Create the fallback notification, if there is a channel left, and publish the failure either way."""
    fallback: Notification | None = None
    if failed.audience == Audience.CITIZEN.value and failed.resend_of is None:
        contact_row = await uow.session.get(DossierContact, failed.dossier_code)
        if contact_row is not None:
            contact = contact_of(contact_row)
            siblings = (
                await uow.session.exec(select(Notification).where(Notification.event_id == failed.event_id))
            ).all()
            delivery = fallback_delivery(
                contact,
                Channel(failed.channel),
                offered(notify, failed.template),
                await opted_out(uow, contact),
                [Channel(s.channel) for s in siblings],
            )
            if delivery is not None:
                fallback = await create_notification(
                    uow,
                    notify,
                    cause_id=uuid.UUID(failed.event_id),
                    event_type=failed.event_type,
                    dossier_code=failed.dossier_code,
                    audience=Audience.CITIZEN,
                    delivery=delivery,
                    template=failed.template,
                    data=decode_data(failed.data),
                    now=now,
                    fallback_of=failed.id,
                )
    uow.emit(
        new_envelope(
            type="notification.failed",
            dossier_code=failed.dossier_code,
            producer="notify",
            payload=NotificationFailed(
                notification_id=failed.id,
                channel=failed.channel,
                template=failed.template,
                reason=reason[:500],
                status=failed.status,
                fallback_channel=fallback.channel if fallback is not None else None,
            ),
        )
    )
    if fallback is not None:
        log.info("notification %s failed on %s; falling back to %s", failed.id, failed.channel, fallback.channel)
