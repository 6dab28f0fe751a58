"""notify's HTTP API: a dossier's notifications in order with their history, an administrator's resend,
postal orders, and citizens' opt-outs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notify.context import notify_of
from services.notify.domain import Audience, Channel, Delivery, national_number, resend_id
from services.notify.notifications import create_notification, decode_data
from services.notify.tables import (
    DossierContact,
    Notification,
    NotificationEvent,
    OptOut,
    PostalOrder,
    PostalOrderEvent,
)
from shared.bus.unit_of_work import UnitOfWork
from shared.web.auth import CurrentPrincipal, Principal, require_any
from shared.web.deps import SessionDep, UnitsDep
from shared.web.idempotency import Idempotency, Outcome
from shared.web.problems import Problem

router = APIRouter(prefix="/v1", tags=["notifications"])
CanRead = require_any("read", "admin", prefixes=("desk:",))
"""A desk key passes this gate and then sees only the dossiers its unit received (``check_desk``)."""
IsAdmin = require_any("admin")
CanManageOptOuts = require_any("admin", "portal")
DossierCode = Annotated[str, Query(min_length=1, max_length=64)]
NotificationId = Annotated[str, Path(min_length=36, max_length=36)]


class StatusChange(BaseModel):
    status: str
    at: datetime
    detail: str | None


class NotificationPublic(BaseModel):
    id: str
    dossier_code: str
    cause: str = Field(description="The event type that caused it.")
    audience: str
    channel: str
    recipient: str
    template: str
    template_version: int
    urgent: bool
    subject: str | None
    body: str
    parts: int | None = Field(description="SMS parts billed.")
    encoding: str | None = Field(description="SMS: unicode, or ascii with accents removed.")
    status: str
    provider: str | None
    provider_reference: str | None
    attempts: int
    next_attempt_at: datetime | None
    fallback_of: str | None
    resend_of: str | None
    created_at: datetime
    history: list[StatusChange]


class NotificationList(BaseModel):
    items: list[NotificationPublic]


def public(n: Notification, history: list[StatusChange]) -> NotificationPublic:
    return NotificationPublic(
        id=n.id,
        dossier_code=n.dossier_code,
        cause=n.event_type,
        audience=n.audience,
        channel=n.channel,
        recipient=n.recipient,
        template=n.template,
        template_version=n.template_version,
        urgent=n.urgent,
        subject=n.subject,
        body=n.body,
        parts=n.parts,
        encoding=n.encoding,
        status=n.status,
        provider=n.provider,
        provider_reference=n.provider_reference,
        attempts=n.attempts,
        next_attempt_at=n.next_attempt_at,
        fallback_of=n.fallback_of,
        resend_of=n.resend_of,
        created_at=n.created_at,
        history=history,
    )


async def check_desk(session: AsyncSession, principal: Principal, dossier_code: str) -> None:
    """A desk reads the messages and orders of the dossiers its unit received; 404 for the others, as
    intake answers, so codes cannot be probed."""
    if principal.has("read"):
        return
    contact = await session.get(DossierContact, dossier_code)
    if contact is None or contact.receiving_unit_code not in principal.units("desk"):
        raise Problem(404, "Not found", f"No dossier {dossier_code} for this key.")


async def histories(session: AsyncSession, ids: list[str]) -> dict[str, list[StatusChange]]:
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
    return history


@router.get(
    "/notifications",
    response_model=NotificationList,
    dependencies=[CanRead],
    summary="A dossier's notifications, oldest first, each with its status history",
)
async def list_notifications(
    session: SessionDep, principal: CurrentPrincipal, dossier_code: DossierCode
) -> NotificationList:
    await check_desk(session, principal, dossier_code)
    rows = (
        await session.exec(
            select(Notification)
            .where(Notification.dossier_code == dossier_code)
            .order_by(col(Notification.created_at), col(Notification.audience), col(Notification.channel))
        )
    ).all()
    history = await histories(session, [n.id for n in rows])
    return NotificationList(items=[public(n, history[n.id]) for n in rows])


@router.get(
    "/notifications/{notification_id}",
    response_model=NotificationPublic,
    dependencies=[CanRead],
    responses={404: {"description": "No such notification"}},
    summary="One notification with its status history",
)
async def get_notification(
    session: SessionDep, principal: CurrentPrincipal, notification_id: NotificationId
) -> NotificationPublic:
    n = await session.get(Notification, notification_id)
    if n is None:
        raise Problem(404, "Not found", f"No notification {notification_id}.")
    await check_desk(session, principal, n.dossier_code)
    return public(n, (await histories(session, [n.id]))[n.id])


class ResendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=500, examples=["Công dân báo không nhận được tin nhắn"])


@router.post(
    "/notifications/{notification_id}/resend",
    status_code=201,
    response_model=NotificationPublic,
    dependencies=[IsAdmin],
    responses={
        404: {"description": "No such notification"},
        409: {"description": "Not sent or failed yet, or the recipient opted out"},
        428: {"description": "No Idempotency-Key"},
    },
    summary="Send a notification again, as a new notification that names the first (administrators)",
)
async def resend(
    notification_id: NotificationId, body: ResendIn, request: Request, units: UnitsDep, idem: Idempotency
) -> Response:
    notify = notify_of(request)
    if idem.key is None:
        raise Problem(
            428,
            "Idempotency key required",
            "A resend sends the citizen a message: give an Idempotency-Key, so a retried request sends it once.",
            errors=[{"source": "header", "field": "Idempotency-Key", "reason": "required"}],
        )

    async def command(uow: UnitOfWork) -> Outcome:
        original = await uow.session.get(Notification, notification_id)
        if original is None:
            raise Problem(404, "Not found", f"No notification {notification_id}.")
        if original.status in ("created", "sending", "temporary-failure"):
            raise Problem(409, "Not finished", f"The notification is {original.status}; it will be tried anyway.")
        channel = Channel(original.channel)
        opted = (
            await uow.session.exec(
                select(OptOut).where(
                    OptOut.channel == channel.value, OptOut.address == _address(channel, original.recipient)
                )
            )
        ).one_or_none()
        if opted is not None:
            raise Problem(409, "Opted out", f"{original.recipient} asked for no {channel.value} messages.")
        now = datetime.now(UTC)
        n = await create_notification(
            uow,
            notify,
            cause_id=uuid.UUID(original.event_id),
            event_type=original.event_type,
            dossier_code=original.dossier_code,
            audience=Audience(original.audience),
            delivery=Delivery(Channel(original.channel), original.recipient),
            template=original.template,
            data=decode_data(original.data),
            now=now,
            resend_of=original.id,
            nid=str(resend_id(original.id, now)),
            detail=f"resend: {body.reason}",
            urgent=True,
        )
        if n is None:
            raise Problem(409, "Conflict", "This resend was just made.")
        return Outcome(201, public(n, [StatusChange(status="created", at=now, detail=f"resend: {body.reason}")]), {})

    return await idem.run(units, command)


class PostalOrderPublic(BaseModel):
    id: str
    dossier_code: str
    kind: str
    status: str
    tracking_number: str | None
    attempts: int
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    history: list[StatusChange]


class PostalOrderList(BaseModel):
    items: list[PostalOrderPublic]


@router.get(
    "/postal-orders",
    response_model=PostalOrderList,
    dependencies=[CanRead],
    tags=["postal"],
    summary="A dossier's postal orders (pickup, delivery) with tracking numbers and history",
)
async def list_postal_orders(
    session: SessionDep, principal: CurrentPrincipal, dossier_code: DossierCode
) -> PostalOrderList:
    await check_desk(session, principal, dossier_code)
    orders = (
        await session.exec(
            select(PostalOrder).where(PostalOrder.dossier_code == dossier_code).order_by(col(PostalOrder.created_at))
        )
    ).all()
    ids = [o.id for o in orders]
    history: dict[str, list[StatusChange]] = {i: [] for i in ids}
    if ids:
        for e in (
            await session.exec(
                select(PostalOrderEvent)
                .where(col(PostalOrderEvent.order_id).in_(ids))
                .order_by(col(PostalOrderEvent.id))
            )
        ).all():
            history[e.order_id].append(StatusChange(status=e.status, at=e.at, detail=e.detail))
    return PostalOrderList(
        items=[
            PostalOrderPublic(
                id=o.id,
                dossier_code=o.dossier_code,
                kind=o.kind,
                status=o.status,
                tracking_number=o.tracking_number,
                attempts=o.attempts,
                last_error=o.last_error,
                created_at=o.created_at,
                updated_at=o.updated_at,
                history=history[o.id],
            )
            for o in orders
        ]
    )


class OptOutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Channel
    address: str = Field(min_length=3, max_length=254, description="The phone number or email address.")


class OptOutPublic(BaseModel):
    channel: str
    address: str
    source: str
    created_at: datetime


def _address(channel: Channel, address: str) -> str:
    return address.strip().lower() if channel is Channel.EMAIL else national_number(address)


def _checked_address(channel: Channel, address: str) -> str:
    """The address as stored, or 422: a phone number needs 9 to 11 digits, an email address an @."""
    stored = _address(channel, address)
    usable = "@" in stored.strip("@") if channel is Channel.EMAIL else 9 <= len(stored) <= 11
    if not usable:
        what = "an email address" if channel is Channel.EMAIL else "a phone number (9 to 11 digits)"
        raise Problem(
            422,
            "Invalid request",
            f"The address is not {what}.",
            errors=[{"source": "body", "field": "address", "reason": f"not {what}"}],
        )
    return stored


@router.post(
    "/opt-outs",
    status_code=201,
    response_model=OptOutPublic,
    responses={200: {"model": OptOutPublic, "description": "The address had opted out already"}},
    dependencies=[CanManageOptOuts],
    tags=["opt-outs"],
    summary="A citizen asks for no more messages on a channel (portal or administrator)",
)
async def opt_out(body: OptOutIn, units: UnitsDep, idem: Idempotency) -> Response:
    address = _checked_address(body.channel, body.address)

    async def command(uow: UnitOfWork) -> Outcome:
        existing = (
            await uow.session.exec(
                select(OptOut).where(OptOut.channel == body.channel.value, OptOut.address == address)
            )
        ).one_or_none()
        row = existing or OptOut(
            channel=body.channel.value, address=address, source="api", created_at=datetime.now(UTC)
        )
        uow.session.add(row)
        return Outcome(201 if existing is None else 200, OptOutPublic.model_validate(row, from_attributes=True), {})

    return await idem.run(units, command)


@router.delete(
    "/opt-outs/{channel}/{address}",
    status_code=204,
    responses={404: {"description": "The address has not opted out of this channel"}},
    dependencies=[CanManageOptOuts],
    tags=["opt-outs"],
    summary="The citizen wants messages on the channel again",
)
async def opt_in(
    channel: Channel, address: Annotated[str, Path(min_length=3, max_length=254)], units: UnitsDep
) -> Response:
    async with units() as uow:
        row = (
            await uow.session.exec(
                select(OptOut).where(OptOut.channel == channel.value, OptOut.address == _address(channel, address))
            )
        ).one_or_none()
        if row is None:
            raise Problem(404, "Not found", f"{address} has not opted out of {channel.value}.")
        await uow.session.delete(row)
    return Response(status_code=204)


@router.get(
    "/opt-outs",
    response_model=list[OptOutPublic],
    dependencies=[CanManageOptOuts],
    tags=["opt-outs"],
    summary="Whether an address has opted out, per channel",
)
async def list_opt_outs(
    session: SessionDep, address: Annotated[str, Query(min_length=3, max_length=254)]
) -> list[OptOutPublic]:
    candidates = {address.strip().lower(), national_number(address)}
    rows = (await session.exec(select(OptOut).where(col(OptOut.address).in_(candidates)))).all()
    return [OptOutPublic.model_validate(r, from_attributes=True) for r in rows]
