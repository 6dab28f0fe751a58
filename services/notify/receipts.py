"""Applying providers' delivery receipts, citizens' inbound keywords and postal webhooks. Each is recorded
under the provider's own id, so a replayed one is recognised and changes nothing."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlmodel import select

from services.notify.context import Notify
from services.notify.domain import (
    Channel,
    IllegalTransition,
    NotificationStatus,
    check_transition,
    national_number,
    sms_keyword,
)
from services.notify.fallback import fall_back
from services.notify.metrics import RECEIPTS
from services.notify.postal import apply_webhook
from services.notify.status import transition
from services.notify.tables import Notification, OptOut, ProviderReceipt
from shared.bus.unit_of_work import UnitOfWork
from shared.events import new_envelope
from shared.events.delivery import NotificationDelivered

log = logging.getLogger(__name__)

RECEIPT_CHANNELS = {"sms-a": Channel.SMS.value, "sms-b": Channel.SMS.value, "zalo": Channel.ZALO.value}
"""Which channel each provider's receipts may settle: a receipt signed by one cannot settle another's message."""


async def _seen(uow: UnitOfWork, provider: str, receipt_id: str) -> bool:
    return await uow.session.get(ProviderReceipt, (provider, receipt_id)) is not None


def _record(uow: UnitOfWork, provider: str, receipt_id: str, reference: str, status: str, outcome: str) -> str:
    uow.session.add(
        ProviderReceipt(
            provider=provider,
            receipt_id=receipt_id,
            reference=reference[:100],
            status=status[:30],
            outcome=outcome,
            received_at=datetime.now(UTC),
        )
    )
    RECEIPTS.labels(provider, outcome).inc()
    return outcome


async def apply_receipt(
    uow: UnitOfWork,
    notify: Notify,
    *,
    provider: str,
    receipt_id: str,
    reference: str,
    delivered: bool,
    error: str | None,
    at: datetime,
) -> str:
    """'applied', 'replay', 'unknown' (no such notification), 'mismatch' (another provider's message), 'final'
    (its status is final already) or 'out-of-order' (not sent yet)."""
    if await _seen(uow, provider, receipt_id):
        log.info("receipt %s from %s replayed; ignored", receipt_id, provider)
        RECEIPTS.labels(provider, "replay").inc()
        return "replay"
    status = "delivered" if delivered else "failed"
    n = await uow.session.get(Notification, reference)
    if n is None:
        log.warning("receipt %s from %s names unknown notification %r; ignored", receipt_id, provider, reference)
        return _record(uow, provider, receipt_id, reference, status, "unknown")
    if RECEIPT_CHANNELS.get(provider) != n.channel or (n.provider and n.provider != provider):
        log.warning(
            "receipt %s from %s names %s, sent on %s by %s; ignored", receipt_id, provider, n.id, n.channel, n.provider
        )
        return _record(uow, provider, receipt_id, reference, status, "mismatch")
    new = NotificationStatus.DELIVERED if delivered else NotificationStatus.PERMANENT_FAILURE
    try:
        check_transition(NotificationStatus(n.status), new)
    except IllegalTransition:
        outcome = "final" if NotificationStatus(n.status).final else "out-of-order"
        log.info("receipt %s for %s (%s) ignored: %s", receipt_id, n.id, n.status, outcome)
        return _record(uow, provider, receipt_id, reference, status, outcome)
    transition(uow, n, new, detail=f"{provider} receipt {receipt_id}" + (f": {error}" if error else ""))
    if delivered:
        uow.emit(
            new_envelope(
                type="notification.delivered",
                dossier_code=n.dossier_code,
                producer="notify",
                payload=NotificationDelivered(
                    notification_id=n.id, channel=n.channel, template=n.template, delivered_at=at, provider=provider
                ),
            )
        )
    else:
        await fall_back(uow, notify, n, f"{provider}: {error or 'not delivered'}", datetime.now(UTC))
    return _record(uow, provider, receipt_id, reference, status, "applied")


async def apply_inbound_sms(uow: UnitOfWork, *, provider: str, message_id: str, sender: str, text: str) -> str:
    """A citizen's keyword: TC / HUY opts their number out of SMS, DK opts it back in."""
    if await _seen(uow, provider, f"inbound:{message_id}"):
        return "replay"
    sender = national_number(sender)
    keyword = sms_keyword(text)
    _record(uow, provider, f"inbound:{message_id}", sender, keyword or "other", keyword or "no-keyword")
    existing = (
        await uow.session.exec(select(OptOut).where(OptOut.channel == Channel.SMS.value, OptOut.address == sender))
    ).one_or_none()
    if keyword == "opt-out" and existing is None:
        uow.session.add(
            OptOut(channel=Channel.SMS.value, address=sender, source=f"sms:{provider}", created_at=datetime.now(UTC))
        )
    elif keyword == "opt-in" and existing is not None:
        await uow.session.delete(existing)
    return keyword or "no-keyword"


async def apply_postal_webhook(
    uow: UnitOfWork,
    notify: Notify,
    *,
    event_id: str,
    tracking_number: str,
    order_id: str | None,
    status: str,
    at: datetime,
    note: str | None,
) -> str:
    if await _seen(uow, "postal", event_id):
        RECEIPTS.labels("postal", "replay").inc()
        return "replay"
    outcome = await apply_webhook(uow, notify, tracking_number, order_id, status, at, note)
    return _record(uow, "postal", event_id, tracking_number, status, outcome.outcome)
