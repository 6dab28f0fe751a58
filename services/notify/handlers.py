"""notify's event handlers, one per event type: they keep the dossier's contact, create notification rows
and postal orders; the sender and the postal worker do the talking to providers."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from services.notify.context import Notify
from services.notify.domain import DEFAULT_ORDER, Audience, is_back_dated
from services.notify.notifications import notify_citizen, notify_unit
from services.notify.parking import park, unpark
from services.notify.postal import request_order
from services.notify.tables import DossierContact
from shared.bus.handlers import Handlers
from shared.bus.unit_of_work import UnitOfWork
from shared.events import Envelope
from shared.events.clock import (
    ApologyRequired,
    AppointmentChange,
    AppointmentChanged,
    DossierTimer,
    StepTimer,
)
from shared.events.delivery import PostalKind
from shared.events.dossier import (
    Channel,
    Contact,
    DossierAccepted,
    DossierRefused,
    DossierStopped,
    DossierSubmitted,
    DossierWithdrawn,
    FinancialObligationSet,
    ResultDelivery,
    SupplementRequested,
)
from shared.events.step import DossierResolved, StepAssigned

log = logging.getLogger(__name__)

RECEIVED = {
    Channel.IN_PERSON: "dossier.received_desk",
    Channel.ONLINE: "dossier.received_online",
    Channel.POSTAL: "dossier.received_postal",
}
RESULT_READY = {ResultDelivery.DESK: "result.ready_desk", ResultDelivery.ONLINE: "result.ready_online"}


def second_cause(event: Envelope, what: str) -> uuid.UUID:
    """The cause of a second message from one event, kept apart from the first."""
    return uuid.uuid5(event.event_id, what)


async def keep_contact(
    uow: UnitOfWork,
    event: Envelope,
    applicant: Contact,
    channel: Channel,
    result_delivery: ResultDelivery,
    procedure_code: str,
    receiving_unit_code: str,
    appointment_at: datetime | None = None,
) -> None:
    channels = applicant.notification_channels
    order = [c.value for c in channels] if channels is not None else [c.value for c in DEFAULT_ORDER]
    row = await uow.session.get(DossierContact, event.dossier_code) or DossierContact(
        dossier_code=event.dossier_code,
        full_name=applicant.full_name,
        channels="",
        submission_channel=channel.value,
        result_delivery=result_delivery.value,
        procedure_code=procedure_code,
        receiving_unit_code=receiving_unit_code,
        updated_at=event.occurred_at,
    )
    row.full_name = applicant.full_name
    row.phone, row.email, row.address = applicant.phone, applicant.email, applicant.address
    row.channels = ",".join(order)
    row.submission_channel, row.result_delivery = channel.value, result_delivery.value
    row.procedure_code, row.receiving_unit_code = procedure_code, receiving_unit_code
    row.appointment_at = appointment_at or row.appointment_at
    row.updated_at = datetime.now(UTC)
    uow.session.add(row)


class Say:
    """What every handler does: skip back-dated events, and message the citizen or a unit."""

    def __init__(self, notify: Notify) -> None:
        self.notify = notify

    def past(self, event: Envelope) -> bool:
        if is_back_dated(event.occurred_at, event.recorded_at, self.notify.back_dated_after):
            log.info("dossier %s: %s is back-dated; no message", event.dossier_code, event.type)
            return True
        return False

    async def citizen(
        self, uow: UnitOfWork, event: Envelope, template: str, cause: uuid.UUID | None = None, **extra: Any
    ) -> None:
        if self.past(event):
            return
        if await uow.session.get(DossierContact, event.dossier_code) is None:
            await park(uow, event)
            return
        await notify_citizen(
            uow,
            self.notify,
            cause_id=cause or event.event_id,
            event_type=event.type,
            dossier_code=event.dossier_code,
            template=template,
            extra=extra,
            now=datetime.now(UTC),
        )

    async def unit(
        self, uow: UnitOfWork, event: Envelope, unit_code: str, template: str, audience: Audience, **data: Any
    ) -> None:
        if self.past(event):
            return
        await notify_unit(
            uow,
            self.notify,
            cause_id=uuid.uuid5(event.event_id, f"{audience.value}:{unit_code}"),
            event_type=event.type,
            dossier_code=event.dossier_code,
            unit_code=unit_code,
            audience=audience,
            template=template,
            data=data,
            now=datetime.now(UTC),
        )

    async def procedure_of(self, uow: UnitOfWork, code: str) -> str:
        row = await uow.session.get(DossierContact, code)
        return self.notify.procedure_name(row.procedure_code) if row else ""

    def step_data(
        self, unit_code: str, step_name: str | None, deadline_at: datetime | None, procedure: str
    ) -> dict[str, Any]:
        return {
            "unit_name": self.notify.unit_name(unit_code),
            "step_name": step_name or "",
            "deadline_at": deadline_at,
            "procedure_name": procedure,
        }


def build_handlers(notify: Notify) -> Handlers:
    handlers = Handlers()
    say = Say(notify)
    _intake_events(handlers, say)
    _routing_events(handlers, say)
    _sla_events(handlers, say)
    return handlers


def _intake_events(handlers: Handlers, say: Say) -> None:
    notify = say.notify

    @handlers.on("dossier.submitted")
    async def submitted(uow: UnitOfWork, event: Envelope, s: DossierSubmitted) -> None:
        await keep_contact(
            uow, event, s.applicant, s.channel, s.result_delivery, s.procedure_code, s.receiving_unit_code
        )
        if s.channel is Channel.POSTAL and not say.past(event):
            await request_order(uow, notify, event, PostalKind.PICKUP)
        await unpark(uow, event.dossier_code, handlers)

    @handlers.on("dossier.accepted")
    async def accepted(uow: UnitOfWork, event: Envelope, a: DossierAccepted) -> None:
        await keep_contact(
            uow,
            event,
            a.applicant,
            a.channel,
            a.result_delivery,
            a.procedure_code,
            a.receiving_unit_code,
            a.appointment_at,
        )
        appointment = a.appointment_at or a.received_at
        await say.citizen(uow, event, RECEIVED[a.channel], received_at=a.received_at, appointment_at=appointment)
        if a.result_delivery is ResultDelivery.POSTAL:
            await say.citizen(uow, event, "dossier.postal_return_requested", second_cause(event, "postal-return"))
        await unpark(uow, event.dossier_code, handlers)

    @handlers.on("dossier.refused")
    async def refused(uow: UnitOfWork, event: Envelope, r: DossierRefused) -> None:
        await say.citizen(uow, event, "dossier.refused", reason=r.reason)

    @handlers.on("dossier.supplement_requested")
    async def supplement(uow: UnitOfWork, event: Envelope, s: SupplementRequested) -> None:
        await say.citizen(uow, event, "dossier.supplement_requested", items=s.items, reason=s.reason)

    @handlers.on("dossier.financial_obligation_set")
    async def payment_due(uow: UnitOfWork, event: Envelope, f: FinancialObligationSet) -> None:
        amount: object = f.amount_vnd if f.amount_vnd is not None else "theo thông báo"
        await say.citizen(uow, event, "dossier.payment_due", items=f.items, amount_vnd=amount, reason=f.reason)

    @handlers.on("dossier.stopped")
    async def stopped(uow: UnitOfWork, event: Envelope, s: DossierStopped) -> None:
        await say.citizen(uow, event, "dossier.stopped", reason=s.reason)

    @handlers.on("dossier.withdrawn")
    async def withdrawn(uow: UnitOfWork, event: Envelope, _: DossierWithdrawn) -> None:
        await say.citizen(uow, event, "dossier.withdrawn")


def _routing_events(handlers: Handlers, say: Say) -> None:
    notify = say.notify

    @handlers.on("dossier.resolved")
    async def resolved(uow: UnitOfWork, event: Envelope, r: DossierResolved) -> None:
        row = await uow.session.get(DossierContact, event.dossier_code)
        if row is None:
            await park(uow, event)
            return
        delivery = ResultDelivery(row.result_delivery)
        if delivery is ResultDelivery.POSTAL and notify.postal:
            if not say.past(event):
                # The citizen is told once the operator gives the tracking number (the postal worker).
                await request_order(uow, notify, event, PostalKind.DELIVERY)
            return
        # With no postal operator configured the result waits at the desk, and the citizen is told so.
        template = RESULT_READY.get(delivery, RESULT_READY[ResultDelivery.DESK])
        await say.citizen(uow, event, template, appointment_at=row.appointment_at or r.resolved_at)

    @handlers.on("step.assigned")
    async def step_assigned(uow: UnitOfWork, event: Envelope, s: StepAssigned) -> None:
        if s.deadline_at is None:
            return
        data = say.step_data(s.to_unit_code, s.step_key, s.deadline_at, await say.procedure_of(uow, event.dossier_code))
        await say.unit(uow, event, s.to_unit_code, "step.assigned", Audience.UNIT, **data)


def _sla_events(handlers: Handlers, say: Say) -> None:
    notify = say.notify

    @handlers.on("dossier.due_soon")
    async def due_soon(uow: UnitOfWork, event: Envelope, t: DossierTimer) -> None:
        await say.citizen(uow, event, "dossier.due_soon", appointment_at=t.appointment_at)

    @handlers.on("dossier.appointment_changed")
    async def appointment_changed(uow: UnitOfWork, event: Envelope, c: AppointmentChanged) -> None:
        row = await uow.session.get(DossierContact, event.dossier_code)
        if row is not None:
            row.appointment_at = c.appointment_at
            uow.session.add(row)
        if c.change is AppointmentChange.RESET:
            await say.citizen(
                uow,
                event,
                "dossier.apology",
                appointment_at=c.appointment_at,
                previous_appointment_at=c.previous_appointment_at,
                reason=c.reason or "",
            )

    @handlers.on("dossier.apology_required")
    async def apology_required(uow: UnitOfWork, event: Envelope, a: ApologyRequired) -> None:
        row = await uow.session.get(DossierContact, event.dossier_code)
        await say.unit(
            uow,
            event,
            a.receiving_unit_code,
            "desk.apology_required",
            Audience.DESK,
            appointment_at=a.appointment_at,
            proposed_appointment_at=a.proposed_appointment_at,
            reason=a.reason,
            responsible_unit_name=notify.unit_name(a.responsible_unit_code),
            unit_name=notify.unit_name(a.receiving_unit_code),
            procedure_name=notify.procedure_name(row.procedure_code) if row else "",
        )

    @handlers.on("step.due_soon")
    async def step_due_soon(uow: UnitOfWork, event: Envelope, t: StepTimer) -> None:
        data = say.step_data(t.unit_code, t.step_name, t.deadline_at, await say.procedure_of(uow, event.dossier_code))
        await say.unit(uow, event, t.unit_code, "step.due_soon", Audience.UNIT, **data)

    @handlers.on("step.overdue")
    async def step_overdue(uow: UnitOfWork, event: Envelope, t: StepTimer) -> None:
        data = say.step_data(t.unit_code, t.step_name, t.deadline_at, await say.procedure_of(uow, event.dossier_code))
        await say.unit(uow, event, t.unit_code, "step.overdue", Audience.UNIT, **data)
        await say.unit(
            uow,
            event,
            t.receiving_unit_code,
            "desk.step_overdue",
            Audience.DESK,
            **data,
            receiving_unit_name=notify.unit_name(t.receiving_unit_code),
        )
