"""Every event type the platform knows: its payload model, version and topic."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from shared.events import clock, delivery, dossier, step
from shared.events.topics import INTAKE_DOSSIER, NOTIFY_DELIVERY, ROUTING_STEP, SLA_CLOCK, Topic


@dataclass(frozen=True)
class EventType:
    name: str
    version: int
    topic: Topic
    payload: type[BaseModel]
    summary: str


def _types(topic: Topic, *specs: tuple[str, type[BaseModel], str]) -> list[EventType]:
    return [EventType(name, 1, topic, model, summary) for name, model, summary in specs]


EVENT_TYPES: dict[str, EventType] = {
    spec.name: spec
    for spec in [
        *_types(
            INTAKE_DOSSIER,
            ("dossier.submitted", dossier.DossierSubmitted, "Filed online or by post; not yet accepted (status 1)."),
            ("dossier.accepted", dossier.DossierAccepted, "A complete dossier was accepted; its clock starts."),
            ("dossier.refused", dossier.DossierRefused, "The desk refused the dossier (status 3)."),
            (
                "dossier.supplement_requested",
                dossier.SupplementRequested,
                "The citizen must supplement the dossier; the clock pauses (status 5).",
            ),
            ("dossier.supplemented", dossier.DossierSupplemented, "The citizen supplied the items; the clock resumes."),
            (
                "dossier.financial_obligation_set",
                dossier.FinancialObligationSet,
                "Fees or land tax are due; the clock pauses (status 6).",
            ),
            ("dossier.paid", dossier.DossierPaid, "The financial obligation was met; the clock resumes."),
            ("dossier.withdrawn", dossier.DossierWithdrawn, "The citizen withdrew the dossier (status 7)."),
            ("dossier.stopped", dossier.DossierStopped, "Processing was stopped (status 8)."),
            ("dossier.result_returned", dossier.ResultReturned, "The result was handed to the citizen (status 10)."),
        ),
        *_types(
            ROUTING_STEP,
            ("route.planned", step.RoutePlanned, "The dossier's route was planned from the catalogue."),
            ("step.assigned", step.StepAssigned, "A step was handed over to the unit responsible for it."),
            ("step.accepted", step.StepAccepted, "The unit acknowledged receipt of its step."),
            ("step.completed", step.StepCompleted, "The unit finished its step: outcome, and early, on time or late."),
            ("step.sent_back", step.StepSentBack, "The unit sent the dossier back to an earlier step."),
            (
                "step.supplement_requested",
                step.StepSupplementRequested,
                "The unit asked the citizen for a supplement; the step pauses.",
            ),
            (
                "step.financial_obligation_set",
                step.StepFinancialObligationSet,
                "The unit set a financial obligation (tax notice, fees); the step pauses.",
            ),
            ("step.resumed", step.StepResumed, "The citizen supplied or paid; the step runs again."),
            ("handover.failed", step.HandoverFailed, "The receiving unit reported a handover broken or late."),
            (
                "handover.unacknowledged",
                step.HandoverUnacknowledged,
                "An external system has not acknowledged a handover in time.",
            ),
            ("handover.acknowledged", step.HandoverAcknowledged, "An external system acknowledged a handover."),
            ("dossier.resolved", step.DossierResolved, "The last step finished; the result is ready (status 9)."),
        ),
        *_types(
            SLA_CLOCK,
            ("clock.started", clock.ClockStarted, "The dossier's working-time clock started."),
            ("clock.paused", clock.ClockPaused, "The dossier's clock paused (citizen, stop, or a step not counted)."),
            ("clock.resumed", clock.ClockResumed, "The dossier's clock runs again."),
            ("step.due_soon", clock.StepTimer, "A step is one working day from its deadline."),
            ("step.overdue", clock.StepTimer, "A step passed its deadline; charged to its unit and level."),
            ("dossier.due_soon", clock.DossierTimer, "Three working hours before the appointment, no result yet."),
            ("dossier.overdue", clock.DossierTimer, "The appointment passed without a result."),
            (
                "dossier.apology_required",
                clock.ApologyRequired,
                "The dossier will miss its appointment: apology and a proposed new appointment.",
            ),
            (
                "dossier.appointment_changed",
                clock.AppointmentChanged,
                "The appointment moved: resumed after a pause, or reset once after an apology.",
            ),
            ("dossier.closed", clock.DossierClosed, "The clock ended: outcome, responsible party and overruns."),
        ),
        *_types(
            NOTIFY_DELIVERY,
            ("notification.sent", delivery.NotificationSent, "A provider accepted a notification."),
            (
                "notification.delivered",
                delivery.NotificationDelivered,
                "The provider's receipt says the notification reached the recipient.",
            ),
            ("notification.failed", delivery.NotificationFailed, "A notification could not be delivered."),
            (
                "postal.pickup_requested",
                delivery.PostalOrderUpdate,
                "The postal operator took an order to collect a dossier filed by post; tracking number issued.",
            ),
            ("postal.picked_up", delivery.PostalOrderUpdate, "The post collected the dossier from the citizen."),
            (
                "postal.delivery_requested",
                delivery.PostalOrderUpdate,
                "The postal operator took an order to deliver the result; tracking number issued.",
            ),
            ("postal.delivered", delivery.PostalOrderUpdate, "The post delivered the result to the citizen."),
            ("postal.failed", delivery.PostalOrderUpdate, "A postal order failed or came back undelivered."),
        ),
    ]
}


class UnknownEventType(KeyError):
    pass


def event_type(name: str) -> EventType:
    try:
        return EVENT_TYPES[name]
    except KeyError:
        raise UnknownEventType(name) from None


def is_known(name: str) -> bool:
    return name in EVENT_TYPES
