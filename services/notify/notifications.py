"""Creating notification rows: the record is written as ``created`` before any provider is called."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlmodel import col, select

from services.notify.context import Notify
from services.notify.domain import (
    Audience,
    Channel,
    Contact,
    Delivery,
    NotificationStatus,
    notification_id,
    plan_deliveries,
)
from services.notify.tables import DossierContact, Notification, NotificationEvent, OptOut
from services.notify.templates import TemplateDataError
from shared.bus.handlers import PermanentError
from shared.bus.tracing import current_trace_headers, encode_headers
from shared.bus.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


def encode_data(data: Mapping[str, object]) -> str:
    """Template values as JSON that keeps their types (instants stay instants)."""

    def tag(value: object) -> object:
        if isinstance(value, datetime):
            return {"$dt": value.isoformat()}
        if isinstance(value, date):
            return {"$d": value.isoformat()}
        if isinstance(value, (list, tuple)):
            return [tag(v) for v in value]
        return value

    return json.dumps({k: tag(v) for k, v in data.items()}, ensure_ascii=False)


def decode_data(raw: str | None) -> dict[str, object]:
    def untag(value: object) -> object:
        if isinstance(value, dict) and "$dt" in value:
            return datetime.fromisoformat(value["$dt"])
        if isinstance(value, dict) and "$d" in value:
            return date.fromisoformat(value["$d"])
        if isinstance(value, list):
            return [untag(v) for v in value]
        return value

    return {k: untag(v) for k, v in json.loads(raw or "{}").items()}


def contact_of(row: DossierContact) -> Contact:
    channels = tuple(Channel(c) for c in row.channels.split(",") if c)
    return Contact(phone=row.phone, email=row.email, channels=channels)


async def opted_out(uow: UnitOfWork, contact: Contact) -> set[tuple[Channel, str]]:
    own = {Channel.SMS: contact.phone, Channel.ZALO: contact.phone, Channel.EMAIL: contact.email}
    stored = {c: (a.lower() if c is Channel.EMAIL else a) for c, a in own.items() if a}
    if not stored:
        return set()
    rows = (await uow.session.exec(select(OptOut).where(col(OptOut.address).in_(set(stored.values()))))).all()
    out = set()
    for r in rows:
        channel = Channel(r.channel)
        address = own.get(channel)
        if address and stored.get(channel) == r.address:
            out.add((channel, address))
    return out


def offered(notify: Notify, template: str) -> set[Channel]:
    return notify.templates.channels(template) & notify.channels


def template_data(notify: Notify, template: str, data: Mapping[str, object]) -> dict[str, object]:
    """The values the template declares, from those the caller knows."""
    wanted = set(notify.templates.placeholders(template))
    missing = wanted - data.keys()
    if missing:
        raise PermanentError(f"template {template}: no value for {', '.join(sorted(missing))}")
    return {k: v for k, v in data.items() if k in wanted}


async def create_notification(
    uow: UnitOfWork,
    notify: Notify,
    *,
    cause_id: uuid.UUID,
    event_type: str,
    dossier_code: str,
    audience: Audience,
    delivery: Delivery,
    template: str,
    data: Mapping[str, object],
    now: datetime,
    fallback_of: str | None = None,
    resend_of: str | None = None,
    nid: str | None = None,
    detail: str | None = None,
    urgent: bool = False,
) -> Notification | None:
    """The notification for one delivery of one cause; None when it exists already (a redelivery)."""
    nid = nid or str(notification_id(cause_id, delivery.channel, delivery.recipient))
    if await uow.session.get(Notification, nid) is not None:
        return None
    values = template_data(notify, template, data)
    try:
        rendered = notify.templates.render(template, delivery.channel, values)
    except TemplateDataError as exc:
        raise PermanentError(f"template {template} on {delivery.channel}: {exc}") from exc
    due = notify.quiet.hold(delivery.channel, urgent or rendered.urgent, now) or now
    row = Notification(
        id=nid,
        event_id=str(cause_id),
        event_type=event_type,
        dossier_code=dossier_code,
        audience=audience.value,
        channel=delivery.channel.value,
        recipient=delivery.recipient,
        template=rendered.template,
        template_version=rendered.version,
        urgent=urgent or rendered.urgent,
        subject=rendered.subject,
        body=rendered.body,
        html=rendered.html,
        data=encode_data(values),
        zalo_template_id=rendered.zalo_template_id,
        zalo_params=json.dumps(rendered.zalo_params, ensure_ascii=False) if rendered.zalo_params else None,
        parts=rendered.parts,
        encoding=rendered.encoding.value if rendered.encoding else None,
        status=NotificationStatus.CREATED.value,
        fallback_of=fallback_of,
        resend_of=resend_of,
        trace_headers=encode_headers(current_trace_headers()) or None,
        created_at=now,
        updated_at=now,
        next_attempt_at=due,
    )
    uow.session.add(row)
    if due <= now:
        uow.after_commit(notify.due.ring)
    if due > now:
        detail = "; ".join(filter(None, [detail, f"quiet hours: waits until {due.isoformat()}"]))
    uow.session.add(
        NotificationEvent(notification_id=nid, status=NotificationStatus.CREATED.value, at=now, detail=detail)
    )
    return row


async def notify_citizen(
    uow: UnitOfWork,
    notify: Notify,
    *,
    cause_id: uuid.UUID,
    event_type: str,
    dossier_code: str,
    template: str,
    extra: Mapping[str, object],
    now: datetime,
) -> list[Notification]:
    """A citizen message on the channels they allow and can be reached on."""
    row = await uow.session.get(DossierContact, dossier_code)
    if row is None:
        log.warning("dossier %s: no contact known; %s not sent", dossier_code, template)
        return []
    contact = contact_of(row)
    data: dict[str, object] = {
        "dossier_code": dossier_code,
        "tracking_link": notify.tracking_link(dossier_code),
        "applicant_name": row.full_name,
        "procedure_name": notify.procedure_name(row.procedure_code),
        "receiving_unit_name": notify.unit_name(row.receiving_unit_code),
        "address": row.address or "",
        **extra,
    }
    deliveries = plan_deliveries(contact, offered(notify, template), await opted_out(uow, contact))
    common = {"cause_id": cause_id, "event_type": event_type, "dossier_code": dossier_code, "template": template}
    return await _each(uow, notify, deliveries, Audience.CITIZEN, data, now, **common)


async def notify_unit(
    uow: UnitOfWork,
    notify: Notify,
    *,
    cause_id: uuid.UUID,
    event_type: str,
    dossier_code: str,
    unit_code: str,
    audience: Audience,
    template: str,
    data: Mapping[str, object],
    now: datetime,
) -> list[Notification]:
    """A unit's or a desk's alert: email, and SMS too for urgent ones when the unit has a phone."""
    contact = notify.unit_contact(unit_code)
    if contact is None:
        log.warning("unit %s has no contact; %s for %s not sent", unit_code, template, dossier_code)
        return []
    channels = offered(notify, template)
    deliveries = []
    if contact.email and Channel.EMAIL in channels:
        deliveries.append(Delivery(Channel.EMAIL, contact.email))
    if contact.phone and Channel.SMS in channels and notify.templates.urgent(template):
        deliveries.append(Delivery(Channel.SMS, contact.phone))
    values = {"dossier_code": dossier_code, **data}
    common = {"cause_id": cause_id, "event_type": event_type, "dossier_code": dossier_code, "template": template}
    return await _each(uow, notify, deliveries, audience, values, now, **common)


async def _each(
    uow: UnitOfWork,
    notify: Notify,
    deliveries: list[Delivery],
    audience: Audience,
    data: Mapping[str, object],
    now: datetime,
    **common: Any,
) -> list[Notification]:
    """One notification per delivery; those a redelivered event finds already made are left out."""
    made = []
    for delivery in deliveries:
        n = await create_notification(uow, notify, audience=audience, delivery=delivery, data=data, now=now, **common)
        if n is not None:
            made.append(n)
    return made
