"""Postal orders (bưu chính công ích): a pickup for a dossier filed by post, a delivery for a result returned
by post. The order row is written with the event that asks for it; the postal worker hands it to the
operator (idempotently, by the order id) and tells the citizen the tracking number; the operator's signed
webhooks move it on."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import or_
from sqlmodel import col, select

from services.notify.context import Notify
from services.notify.domain import postal_order_id, retry_delay
from services.notify.notifications import notify_citizen
from services.notify.providers import PostalClient, PostalOrderRequest, ProviderError
from services.notify.tables import DossierContact, PostalOrder, PostalOrderEvent
from shared.bus.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shared.events import Envelope, new_envelope
from shared.events.delivery import PostalKind, PostalOrderUpdate

log = logging.getLogger(__name__)
PRODUCER = "notify"

REQUESTED = "requested"
"""Written, not yet with the operator."""
CREATED = "created"
FINAL = frozenset({"delivered", "returned", "failed"})
WEBHOOK_STATUSES = frozenset({"picked_up", "in_transit", "delivered", "returned", "failed"})
_ORDER = {REQUESTED: 0, CREATED: 1, "picked_up": 2, "in_transit": 3, "delivered": 4, "returned": 4, "failed": 4}
CITIZEN_TEMPLATE = {PostalKind.PICKUP: "postal.pickup_requested", PostalKind.DELIVERY: "result.ready_postal"}
REQUESTED_EVENT = {PostalKind.PICKUP: "postal.pickup_requested", PostalKind.DELIVERY: "postal.delivery_requested"}


def set_status(uow: UnitOfWork, order: PostalOrder, status: str, at: datetime, detail: str | None = None) -> None:
    order.status = status
    order.updated_at = at
    uow.session.add(order)
    uow.session.add(PostalOrderEvent(order_id=order.id, status=status, at=at, detail=detail))


async def request_order(uow: UnitOfWork, notify: Notify, event: Envelope, kind: PostalKind) -> PostalOrder | None:
    """The order a dossier event asks for, once: its id comes from the dossier and the kind."""
    if not notify.postal:
        log.warning("dossier %s: no postal operator configured; %s order not placed", event.dossier_code, kind.value)
        return None
    oid = str(postal_order_id(event.dossier_code, kind.value))
    if await uow.session.get(PostalOrder, oid) is not None:
        return None
    contact = await uow.session.get(DossierContact, event.dossier_code)
    now = datetime.now(UTC)
    order = PostalOrder(
        id=oid,
        dossier_code=event.dossier_code,
        kind=kind.value,
        status=REQUESTED,
        name=contact.full_name if contact else "",
        phone=contact.phone if contact else None,
        address=(contact.address or "") if contact else "",
        cause_event_id=str(event.event_id),
        created_at=now,
        updated_at=now,
        next_attempt_at=now,
    )
    uow.session.add(order)
    uow.session.add(PostalOrderEvent(order_id=oid, status=REQUESTED, at=now, detail=f"asked by {event.type}"))
    if not order.address:
        order.next_attempt_at = None
        set_status(uow, order, "failed", now, "no address to collect from or deliver to")
        emit_update(uow, order, "postal.failed", now, "no address")
    else:
        uow.after_commit(notify.postal_due.ring)
    return order


def emit_update(uow: UnitOfWork, order: PostalOrder, type_: str, at: datetime, note: str | None = None) -> Envelope:
    envelope = new_envelope(
        type=type_,
        dossier_code=order.dossier_code,
        producer=PRODUCER,
        payload=PostalOrderUpdate(
            order_id=order.id,
            kind=PostalKind(order.kind),
            tracking_number=order.tracking_number,
            status=order.status,
            at=at,
            note=note,
        ),
        occurred_at=at,
    )
    uow.emit(envelope)
    return envelope


@dataclass(frozen=True)
class WebhookOutcome:
    outcome: str
    order_id: str | None = None


async def apply_webhook(
    uow: UnitOfWork,
    notify: Notify,
    tracking_number: str,
    order_id: str | None,
    status: str,
    at: datetime,
    note: str | None,
) -> WebhookOutcome:
    """The operator says an order moved. Unknown orders, statuses behind the order's and changes to a
    finished order are ignored (and said so); the rest emit the event intake shows on the timeline."""
    order = (
        await uow.session.exec(select(PostalOrder).where(PostalOrder.tracking_number == tracking_number))
    ).one_or_none()
    if order is None and order_id is not None:
        # The operator took the order but we died before recording its tracking number: it is ours.
        order = await uow.session.get(PostalOrder, order_id)
        if order is not None and order.tracking_number is None:
            order.tracking_number = tracking_number
    if order is None:
        return WebhookOutcome("unknown")
    if order.status in FINAL or _ORDER[status] <= _ORDER[order.status]:
        return WebhookOutcome("ignored", order.id)
    set_status(uow, order, status, at, note)
    event_type = {
        "picked_up": "postal.picked_up",
        "delivered": "postal.delivered",
        "returned": "postal.failed",
        "failed": "postal.failed",
    }.get(status)
    if event_type is not None:
        envelope = emit_update(uow, order, event_type, at, note)
        if event_type == "postal.failed" and order.kind == PostalKind.DELIVERY.value:
            # The post could not deliver: the result goes back to the desk, and the citizen is told where.
            await notify_citizen(
                uow,
                notify,
                cause_id=envelope.event_id,
                event_type=envelope.type,
                dossier_code=order.dossier_code,
                template="result.ready_desk",
                extra={"appointment_at": at},
                now=datetime.now(UTC),
            )
    return WebhookOutcome("applied", order.id)


class PostalWorker:
    """Hands requested orders to the operator, retrying transient failures over hours."""

    def __init__(self, units: UnitOfWorkFactory, notify: Notify, client: PostalClient, *, poll_interval: float) -> None:
        self._units, self._notify, self._client = units, notify, client
        self._poll_interval = poll_interval

    async def run(self) -> None:
        while True:
            try:
                done = await self.place_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("postal worker: cycle failed")
                done = 0
            if not done:
                await self._notify.postal_due.wait(self._poll_interval)

    async def place_due(self, limit: int = 20) -> int:
        now = datetime.now(UTC)
        async with self._units.sessions() as session:
            due = (
                await session.exec(
                    select(PostalOrder)
                    .where(
                        PostalOrder.status == REQUESTED,
                        or_(col(PostalOrder.next_attempt_at).is_(None), col(PostalOrder.next_attempt_at) <= now),
                    )
                    .order_by(col(PostalOrder.created_at))
                    .limit(limit)
                )
            ).all()
        for order in due:
            try:
                await self._place(order)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # One order's fault must not hold back those behind it.
                log.exception("postal order %s could not be placed", order.id)
                with contextlib.suppress(Exception):
                    await self._failed(order.id, ProviderError(f"{type(exc).__name__}: {exc}", permanent=False))
        return len(due)

    async def _place(self, order: PostalOrder) -> None:
        request = PostalOrderRequest(
            order_id=order.id,
            kind=order.kind,  # type: ignore[arg-type]
            dossier_code=order.dossier_code,
            name=order.name,
            phone=order.phone,
            address=order.address,
        )
        try:
            created = await self._client.create_order(request)
        except ProviderError as exc:
            await self._failed(order.id, exc)
            return
        now = datetime.now(UTC)
        async with self._units() as uow:
            row = await uow.session.get(PostalOrder, order.id)
            if row is None or row.status != REQUESTED:
                return
            row.tracking_number = created.tracking_number
            row.attempts += 1
            row.next_attempt_at = None
            set_status(uow, row, CREATED, now, f"tracking number {created.tracking_number}")
            kind = PostalKind(row.kind)
            envelope = emit_update(uow, row, REQUESTED_EVENT[kind], now)
            await notify_citizen(
                uow,
                self._notify,
                cause_id=envelope.event_id,
                event_type=envelope.type,
                dossier_code=row.dossier_code,
                template=CITIZEN_TEMPLATE[kind],
                extra={"tracking_number": created.tracking_number},
                now=now,
            )

    async def _failed(self, order_id: str, exc: ProviderError) -> None:
        now = datetime.now(UTC)
        async with self._units() as uow:
            row = await uow.session.get(PostalOrder, order_id)
            if row is None or row.status != REQUESTED:
                return
            row.attempts += 1
            row.last_error = str(exc)[:1000]
            delay = None if exc.permanent else retry_delay(row.attempts)
            if delay is None:
                row.next_attempt_at = None
                set_status(uow, row, "failed", now, str(exc)[:500])
                emit_update(uow, row, "postal.failed", now, str(exc)[:500])
                return
            row.next_attempt_at = now + delay
            uow.session.add(row)
            uow.session.add(PostalOrderEvent(order_id=row.id, status=REQUESTED, at=now, detail=f"retry: {exc}"[:500]))
            log.warning("postal order %s: attempt %d failed, next in %s: %s", order_id, row.attempts, delay, exc)
