"""notify's event handlers: they create notification rows; the sender sends them."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from services.notify.domain import Channel, NotificationStatus, is_back_dated, notification_id
from services.notify.tables import Notification, NotificationEvent
from services.notify.templates import Rendered, received_email, received_sms
from shared.bus.handlers import Handlers
from shared.bus.unit_of_work import UnitOfWork
from shared.events import Envelope
from shared.events.dossier import DossierAccepted


async def create_notification(
    uow: UnitOfWork, event: Envelope, channel: Channel, recipient: str, rendered: Rendered
) -> None:
    nid = str(notification_id(uuid.UUID(str(event.event_id)), channel, recipient))
    if await uow.session.get(Notification, nid) is not None:
        return
    now = datetime.now(UTC)
    uow.session.add(
        Notification(
            id=nid,
            event_id=str(event.event_id),
            dossier_code=event.dossier_code,
            channel=channel.value,
            recipient=recipient,
            template=rendered.template,
            template_version=rendered.version,
            subject=rendered.subject,
            body=rendered.body,
            status=NotificationStatus.CREATED.value,
            created_at=now,
            updated_at=now,
            next_attempt_at=now,
        )
    )
    uow.session.add(NotificationEvent(notification_id=nid, status=NotificationStatus.CREATED.value, at=now))


log = logging.getLogger(__name__)


def build_handlers(tracking_base_url: str, back_dated_after: timedelta = timedelta(hours=24)) -> Handlers:
    handlers = Handlers()

    def tracking_link(code: str) -> str:
        return f"{tracking_base_url.rstrip('/')}/{code}"

    @handlers.on("dossier.accepted")
    async def dossier_received(uow: UnitOfWork, event: Envelope, accepted: DossierAccepted) -> None:
        if is_back_dated(event.occurred_at, event.recorded_at, back_dated_after):
            log.info("dossier %s: acceptance of %s is back-dated; no message", event.dossier_code, event.occurred_at)
            return
        link = tracking_link(event.dossier_code)
        applicant = accepted.applicant
        if applicant.email:
            rendered = received_email(applicant.full_name, event.dossier_code, accepted.received_at, link)
            await create_notification(uow, event, Channel.EMAIL, applicant.email, rendered)
        if applicant.phone:
            rendered = received_sms(event.dossier_code, accepted.received_at, link)
            await create_notification(uow, event, Channel.SMS, applicant.phone, rendered)

    return handlers
