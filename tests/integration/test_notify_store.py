"""notify on its real database (SQLite, or PostgreSQL when LIENTHONG_TEST_DATABASE_URL is set): every event
type it handles makes its messages from the real templates, a redelivered event makes none, and the sender's
outcomes (sent, retried, failed for good with a fallback, reconciled after a crash) follow the rules. The
providers here are hand-written fakes behind the same interface as the real operators' clients."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlmodel import col, select

from services.notify.context import Notify
from services.notify.domain import Channel, NotificationStatus, QuietHours
from services.notify.handlers import build_handlers
from services.notify.main import MIGRATIONS
from services.notify.providers import Accepted, Lookup, LookupOutcome, OutgoingMessage, ProviderError
from services.notify.receipts import apply_postal_webhook, apply_receipt
from services.notify.sender import Sender
from services.notify.settings import NotifySettings
from services.notify.tables import Notification, NotificationEvent, ParkedEvent, PostalOrder
from shared.bus.handlers import Handlers
from shared.bus.tables import OutboxRecord
from shared.bus.unit_of_work import UnitOfWorkFactory
from shared.db import create_engine, is_sqlite, migrate, session_maker
from shared.doorbell import Doorbell
from shared.events import Envelope, new_envelope
from shared.events.clock import (
    ApologyRequired,
    AppointmentChange,
    AppointmentChanged,
    DossierTimer,
    StepTimer,
)
from shared.events.dossier import (
    Channel as Filing,
)
from shared.events.dossier import (
    Contact,
    DossierAccepted,
    DossierRefused,
    DossierStopped,
    DossierSubmitted,
    DossierWithdrawn,
    FinancialObligationSet,
    NotificationChannel,
    ResultDelivery,
    SupplementRequested,
)
from shared.events.step import DossierResolved, StepAssigned

LAND = "1.012777.000.00.00.H56"
NOW = datetime.now(UTC)
APPOINTMENT = NOW + timedelta(days=14)


@pytest.fixture(scope="module")
def notify() -> Notify:
    settings = NotifySettings(
        postal_api_url="http://postal.sandbox.invalid", zalo_api_url="http://zalo.sandbox.invalid"
    )
    return replace(Notify.load(settings), quiet=QuietHours(time(0, 0), time(0, 0)))


class Store:
    def __init__(self, url: str) -> None:
        self.engine = create_engine(url, "notify")
        self.units = UnitOfWorkFactory(session_maker(self.engine))

    async def handle(self, handlers: Handlers, event: Envelope) -> None:
        registration = handlers.get(event.type)
        assert registration is not None, event.type
        payload = registration.payload.model_validate(event.payload)
        async with self.units() as uow:
            await registration.handler(uow, event, payload)

    async def notifications(self, code: str) -> list[Notification]:
        async with self.units() as uow:
            rows = await uow.session.exec(
                select(Notification).where(Notification.dossier_code == code).order_by(col(Notification.created_at))
            )
            return list(rows.all())

    async def outbox_types(self, code: str) -> list[str]:
        async with self.units() as uow:
            rows = await uow.session.exec(select(OutboxRecord).where(col(OutboxRecord.key) == code))
            return [r.event_type for r in rows.all()]


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    s = Store(database_url.format(service="notify"))
    await migrate(s.engine, "notify", MIGRATIONS)
    yield s
    await s.engine.dispose()


def code() -> str:
    return f"H56.101-261202-{uuid.uuid4().int % 10000:04d}"


def event(type_: str, dossier: str, payload: object, producer: str = "intake") -> Envelope:
    return new_envelope(type=type_, dossier_code=dossier, producer=producer, payload=payload)  # type: ignore[arg-type]


def applicant(channels: list[NotificationChannel] | None = None) -> Contact:
    return Contact(
        full_name="Nguyễn Thị Phương Thảo",
        phone="0912345678",
        email="thao@example.vn",
        address="5 Nguyễn Huệ, phường Sơn Hà",
        notification_channels=channels,
    )


def accepted(channel: Filing = Filing.ONLINE, delivery: ResultDelivery = ResultDelivery.DESK) -> DossierAccepted:
    return DossierAccepted(
        procedure_code=LAND,
        receiving_unit_code="H56.101",
        channel=channel,
        applicant=applicant(),
        received_at=NOW,
        appointment_at=APPOINTMENT,
        result_delivery=delivery,
    )


def step_timer() -> StepTimer:
    return StepTimer(
        step_id=str(uuid.uuid4()),
        seq=1,
        attempt=1,
        step_name="Thẩm định hồ sơ",
        unit_code="H56.VPDK.01",
        unit_level="land_office",
        deadline_at=NOW + timedelta(hours=8),
        receiving_unit_code="H56.101",
    )


def every_event(dossier: str) -> list[Envelope]:
    """One event of each type notify handles, in an order a dossier could see them."""
    return [
        event(
            "dossier.submitted",
            dossier,
            DossierSubmitted(
                procedure_code=LAND,
                receiving_unit_code="H56.101",
                channel=Filing.POSTAL,
                applicant=applicant(),
                result_delivery=ResultDelivery.POSTAL,
                submitted_at=NOW,
            ),
        ),
        event("dossier.accepted", dossier, accepted(Filing.POSTAL, ResultDelivery.POSTAL)),
        event(
            "step.assigned",
            dossier,
            StepAssigned(
                step_id=uuid.uuid4(),
                seq=1,
                from_unit_code=None,
                to_unit_code="H56.101",
                assigned_at=NOW,
                deadline_at=NOW + timedelta(hours=4),
                step_key="intake",
            ),
            "routing",
        ),
        event("dossier.supplement_requested", dossier, SupplementRequested(items=["Bản sao CCCD"], reason="Mờ")),
        event(
            "dossier.financial_obligation_set",
            dossier,
            FinancialObligationSet(items=["Lệ phí trước bạ"], amount_vnd=1_250_000, reason="Theo thông báo thuế"),
        ),
        event("step.due_soon", dossier, step_timer(), "sla"),
        event("step.overdue", dossier, step_timer(), "sla"),
        event(
            "dossier.due_soon",
            dossier,
            DossierTimer(appointment_at=APPOINTMENT, receiving_unit_code="H56.101"),
            "sla",
        ),
        event(
            "dossier.apology_required",
            dossier,
            ApologyRequired(
                appointment_at=APPOINTMENT,
                proposed_appointment_at=APPOINTMENT + timedelta(days=3),
                responsible_unit_code="H56.VPDK.01",
                responsible_level="land_office",
                reason="Chờ kết quả đo đạc",
                receiving_unit_code="H56.101",
                reset_allowed=True,
            ),
            "sla",
        ),
        event(
            "dossier.appointment_changed",
            dossier,
            AppointmentChanged(
                appointment_at=APPOINTMENT + timedelta(days=3),
                previous_appointment_at=APPOINTMENT,
                change=AppointmentChange.RESET,
                reason="Chờ kết quả đo đạc",
            ),
            "sla",
        ),
        event("dossier.stopped", dossier, DossierStopped(reason="Có tranh chấp")),
        event("dossier.withdrawn", dossier, DossierWithdrawn(reason="Công dân rút")),
        event("dossier.refused", dossier, DossierRefused(reason="Không thuộc thẩm quyền")),
        event(
            "dossier.resolved",
            dossier,
            DossierResolved(resolved_at=NOW, resolving_unit_code="H56.VPDK.01"),
            "routing",
        ),
    ]


async def test_every_event_type_notify_handles_makes_its_messages_and_a_redelivery_none(
    store: Store, notify: Notify
) -> None:
    handlers = build_handlers(notify)
    dossier = code()
    events = every_event(dossier)
    assert sorted({e.type for e in events}) == handlers.types, "a handled type is missing from this test"
    for e in events:
        await store.handle(handlers, e)
    made = await store.notifications(dossier)
    citizen = {(n.template, n.channel) for n in made if n.audience == "citizen"}
    for template in (
        "dossier.received_postal",
        "dossier.postal_return_requested",
        "dossier.supplement_requested",
        "dossier.payment_due",
        "dossier.due_soon",
        "dossier.apology",
        "dossier.stopped",
        "dossier.withdrawn",
        "dossier.refused",
    ):
        assert {(template, Channel.SMS.value), (template, Channel.EMAIL.value)} <= citizen, template
    units = {(n.template, n.audience, n.channel) for n in made if n.audience != "citizen"}
    assert ("step.assigned", "unit", "email") in units and ("step.assigned", "unit", "sms") not in units
    assert {("step.overdue", "unit", "email"), ("desk.step_overdue", "desk", "email")} <= units
    assert ("desk.apology_required", "desk", "sms") in units  # urgent: the desk's phone too
    async with store.units() as uow:
        orders = (await uow.session.exec(select(PostalOrder).where(PostalOrder.dossier_code == dossier))).all()
    assert sorted(o.kind for o in orders) == ["delivery", "pickup"]
    assert all(n.status == "created" and n.data for n in made)

    for e in events:  # the inbox aside, the ids alone keep a redelivery from adding anything
        await store.handle(handlers, e)
    assert len(await store.notifications(dossier)) == len(made)


async def test_the_citizens_channels_and_a_back_dated_event(store: Store, notify: Notify) -> None:
    handlers = build_handlers(notify)
    zalo_only, nothing, legacy = code(), code(), code()
    payload = accepted()
    await store.handle(
        handlers,
        event(
            "dossier.accepted",
            zalo_only,
            payload.model_copy(update={"applicant": applicant([NotificationChannel.ZALO])}),
        ),
    )
    await store.handle(
        handlers, event("dossier.accepted", nothing, payload.model_copy(update={"applicant": applicant([])}))
    )
    old = event("dossier.accepted", legacy, payload).model_copy(update={"occurred_at": NOW - timedelta(days=30)})
    await store.handle(handlers, old)
    assert [(n.channel, n.recipient) for n in await store.notifications(zalo_only)] == [("zalo", "0912345678")]
    assert await store.notifications(nothing) == []
    assert await store.notifications(legacy) == []


@dataclass
class FakeOperator:
    """The edge of the world: an operator that accepts, refuses or has already taken a message."""

    channel: Channel
    name: str = "fake"
    fail: ProviderError | None = None
    known: set[str] = field(default_factory=set)
    sent: list[str] = field(default_factory=list)

    async def send(self, message: OutgoingMessage) -> Accepted:
        if self.fail is not None:
            raise self.fail
        self.sent.append(message.id)
        self.known.add(message.id)
        return Accepted(reference=f"op-{message.id[:8]}", provider=self.name)

    async def lookup(self, notification_id: str) -> Lookup:
        if notification_id in self.known:
            return Lookup(LookupOutcome.FOUND, f"op-{notification_id[:8]}", self.name)
        return Lookup(LookupOutcome.NOT_FOUND)

    async def close(self) -> None:
        return None


def sender(store: Store, notify: Notify, operators: dict[Channel, FakeOperator], timeout: float = 300) -> Sender:
    return Sender(
        store.units,
        operators,
        notify,
        poll_interval=0.01,
        sending_timeout=timedelta(seconds=timeout),
        use_skip_locked=not is_sqlite(store.engine),
    )


async def accept_one(store: Store, notify: Notify, channels: list[NotificationChannel] | None = None) -> str:
    dossier = code()
    payload = accepted().model_copy(update={"applicant": applicant(channels)})
    await store.handle(build_handlers(notify), event("dossier.accepted", dossier, payload))
    return dossier


async def history(store: Store, nid: str) -> list[str]:
    async with store.units() as uow:
        rows = await uow.session.exec(
            select(NotificationEvent)
            .where(NotificationEvent.notification_id == nid)
            .order_by(col(NotificationEvent.id))
        )
        return [r.status for r in rows.all()]


async def test_sent_then_delivered_and_a_late_receipt_changes_nothing(store: Store, notify: Notify) -> None:
    dossier = await accept_one(store, notify, [NotificationChannel.SMS])
    sms = FakeOperator(Channel.SMS, "sms-a")
    assert await sender(store, notify, {Channel.SMS: sms}).send_due() == 1
    (n,) = await store.notifications(dossier)
    assert n.status == "sent" and n.provider_reference == f"op-{n.id[:8]}" and sms.sent == [n.id]
    async with store.units() as uow:
        foreign = await apply_receipt(
            uow, notify, provider="zalo", receipt_id="z1", reference=n.id, delivered=False, error="x", at=NOW
        )
    async with store.units() as uow:
        first = await apply_receipt(
            uow, notify, provider="sms-a", receipt_id="r1", reference=n.id, delivered=True, error=None, at=NOW
        )
    async with store.units() as uow:
        again = await apply_receipt(
            uow, notify, provider="sms-a", receipt_id="r1", reference=n.id, delivered=True, error=None, at=NOW
        )
    async with store.units() as uow:
        contrary = await apply_receipt(
            uow, notify, provider="sms-a", receipt_id="r2", reference=n.id, delivered=False, error="x", at=NOW
        )
    async with store.units() as uow:
        unknown = await apply_receipt(
            uow, notify, provider="sms-a", receipt_id="r3", reference="nope", delivered=True, error=None, at=NOW
        )
    assert (foreign, first, again, contrary, unknown) == ("mismatch", "applied", "replay", "final", "unknown")
    assert await history(store, n.id) == ["created", "sending", "sent", "delivered"]
    assert await store.outbox_types(dossier) == ["notification.sent", "notification.delivered"]


async def test_a_permanent_refusal_falls_back_to_the_next_channel(store: Store, notify: Notify) -> None:
    dossier = await accept_one(store, notify, [NotificationChannel.ZALO, NotificationChannel.SMS])
    zalo = FakeOperator(Channel.ZALO, "zalo", fail=ProviderError("-118 no Zalo account", permanent=True))
    sms = FakeOperator(Channel.SMS)
    send = sender(store, notify, {Channel.ZALO: zalo, Channel.SMS: sms})
    await send.send_due()
    await send.send_due()
    rows = {n.channel: n for n in await store.notifications(dossier)}
    assert rows["zalo"].status == NotificationStatus.PERMANENT_FAILURE.value
    assert rows["sms"].fallback_of == rows["zalo"].id and rows["sms"].status == "sent"
    assert rows["sms"].body and rows["sms"].template == rows["zalo"].template
    assert sorted(await store.outbox_types(dossier)) == ["notification.failed", "notification.sent"]


async def test_transient_failures_wait_longer_each_time_then_fall_back(store: Store, notify: Notify) -> None:
    dossier = await accept_one(store, notify, [NotificationChannel.SMS, NotificationChannel.EMAIL])
    down = ProviderError("HTTP 503", permanent=False)
    sms, email = FakeOperator(Channel.SMS, fail=down), FakeOperator(Channel.EMAIL)
    send = sender(store, notify, {Channel.SMS: sms, Channel.EMAIL: email})
    await send.send_due()
    waits = []
    for _ in range(20):
        async with store.units() as uow:
            row = (
                await uow.session.exec(
                    select(Notification).where(Notification.dossier_code == dossier, Notification.channel == "sms")
                )
            ).one()
            if NotificationStatus(row.status).final:
                break
            assert row.next_attempt_at is not None
            waits.append(row.next_attempt_at - datetime.now(UTC))
            row.next_attempt_at = datetime.now(UTC)  # the test does not wait hours
            uow.session.add(row)
        await send.send_due()
    assert row.status == NotificationStatus.TECHNICAL_FAILURE.value
    assert waits == sorted(waits) and waits[0] > timedelta(seconds=50) and waits[-1] > timedelta(hours=7)
    rows = await store.notifications(dossier)
    # The email went at once; with it used already, nothing is left to fall back to.
    assert [n.channel for n in rows] == ["sms", "email"] or [n.channel for n in rows] == ["email", "sms"]
    assert "notification.failed" in await store.outbox_types(dossier)


async def test_a_crash_after_the_operator_took_it_is_reconciled_not_resent(store: Store, notify: Notify) -> None:
    dossier = await accept_one(store, notify, [NotificationChannel.SMS])
    sms = FakeOperator(Channel.SMS)
    send = sender(store, notify, {Channel.SMS: sms}, timeout=0.001)
    (claimed,) = await send.claim()  # marked sending; the process "dies" after the operator took it
    sms.known.add(claimed.id)
    lost = await accept_one(store, notify, [NotificationChannel.SMS])
    (never,) = await send.claim()  # this one died before reaching the operator
    assert await send.reconcile_stale() == 2
    (taken,) = await store.notifications(dossier)
    assert taken.status == "sent" and taken.provider_reference == f"op-{claimed.id[:8]}"
    assert sms.sent == [], "the operator was sent the message again"
    (retried,) = await store.notifications(lost)
    assert retried.id == never.id and retried.status == "temporary-failure"
    await send.send_due()
    assert sms.sent == [never.id]


async def test_a_result_the_post_could_not_deliver_goes_back_to_the_desk_and_the_citizen_is_told(
    store: Store, notify: Notify
) -> None:
    handlers = build_handlers(notify)
    dossier = code()
    await store.handle(handlers, event("dossier.accepted", dossier, accepted(delivery=ResultDelivery.POSTAL)))
    resolved = DossierResolved(resolved_at=NOW, resolving_unit_code="H56.VPDK.01")
    await store.handle(handlers, event("dossier.resolved", dossier, resolved, "routing"))
    async with store.units() as uow:
        order = (await uow.session.exec(select(PostalOrder).where(PostalOrder.dossier_code == dossier))).one()
        order.tracking_number, order.status = "EL123456785VN", "created"
        uow.session.add(order)

    async def webhook(event_id: str, tracking_number: str, status: str) -> str:
        async with store.units() as uow:
            return await apply_postal_webhook(
                uow,
                notify,
                event_id=event_id,
                tracking_number=tracking_number,
                order_id=None,
                status=status,
                at=NOW,
                note=None,
            )

    unknown = await webhook("w0", "EL000000000VN", "delivered")
    returned = await webhook("w1", "EL123456785VN", "returned")
    late = await webhook("w2", "EL123456785VN", "delivered")
    assert (unknown, returned, late) == ("unknown", "applied", "ignored")
    told = [n.template for n in await store.notifications(dossier) if n.template.startswith("result.")]
    assert told == ["result.ready_desk", "result.ready_desk"]  # by SMS and by email
    assert (await store.outbox_types(dossier)).count("postal.failed") == 1


async def test_events_before_the_contact_are_parked_and_applied_when_it_arrives(store: Store, notify: Notify) -> None:
    """Routing's and sla's topics are not ordered with intake's: a notify that restarts may read a dossier's
    resolution (and an apology) before its acceptance. Nothing is lost: they wait for the contact."""
    handlers = build_handlers(notify)
    dossier = code()
    resolution = DossierResolved(resolved_at=NOW, resolving_unit_code="H56.101")
    resolved = event("dossier.resolved", dossier, resolution, "routing")
    await store.handle(handlers, resolved)
    await store.handle(handlers, resolved)  # redelivered before the contact: parked once
    assert await store.notifications(dossier) == []
    async with store.units() as uow:
        parked = (await uow.session.exec(select(ParkedEvent).where(ParkedEvent.dossier_code == dossier))).all()
        assert [p.event_type for p in parked] == ["dossier.resolved"]

    await store.handle(handlers, event("dossier.accepted", dossier, accepted(delivery=ResultDelivery.POSTAL)))
    async with store.units() as uow:
        orders = (await uow.session.exec(select(PostalOrder).where(PostalOrder.dossier_code == dossier))).all()
        left = (await uow.session.exec(select(ParkedEvent).where(ParkedEvent.dossier_code == dossier))).all()
    assert [o.kind for o in orders] == ["delivery"], "the parked resolution asked the post to deliver"
    assert left == []
    templates = {n.template for n in await store.notifications(dossier) if n.audience == "citizen"}
    assert templates == {"dossier.received_online", "dossier.postal_return_requested"}

    desk = event("dossier.resolved", code(), resolution, "routing")
    await store.handle(handlers, desk)
    await store.handle(handlers, event("dossier.accepted", desk.dossier_code, accepted()))
    ready = {n.template for n in await store.notifications(desk.dossier_code) if n.audience == "citizen"}
    assert ready == {"dossier.received_online", "result.ready_desk"}


async def test_a_committed_notification_rings_the_senders_doorbell_and_a_rolled_back_one_does_not(
    store: Store, notify: Notify
) -> None:
    bell_notify = replace(notify, due=Doorbell())
    handlers = build_handlers(bell_notify)
    dossier = code()
    accepted_event = event("dossier.accepted", dossier, accepted())
    registration = handlers.get(accepted_event.type)
    assert registration is not None
    payload = registration.payload.model_validate(accepted_event.payload)

    with pytest.raises(RuntimeError, match="rolled back"):
        async with store.units() as uow:
            await registration.handler(uow, accepted_event, payload)
            raise RuntimeError("rolled back")
    assert await store.notifications(dossier) == []
    assert await bell_notify.due.wait(timeout=0.01) is False, "rung for rows that were never committed"

    await store.handle(handlers, accepted_event)
    assert len(await store.notifications(dossier)) >= 2
    assert await bell_notify.due.wait(timeout=30) is True

    await store.handle(handlers, accepted_event)  # a redelivery makes nothing, so there is nothing to send
    assert await bell_notify.due.wait(timeout=0.01) is False


async def test_a_requested_postal_order_rings_the_postal_workers_doorbell(store: Store, notify: Notify) -> None:
    bell_notify = replace(notify, postal_due=Doorbell())
    handlers = build_handlers(bell_notify)
    dossier = code()
    for e in every_event(dossier):
        await store.handle(handlers, e)
        async with store.units() as uow:
            orders = (await uow.session.exec(select(PostalOrder).where(PostalOrder.dossier_code == dossier))).all()
        if orders:
            break
    assert [o.kind for o in orders] == ["pickup"]
    assert await bell_notify.postal_due.wait(timeout=30) is True
