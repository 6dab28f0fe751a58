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
            (
                "dossier.accepted",
                dossier.DossierAccepted,
                "A complete dossier was accepted; its clock starts.",
            ),
        ),
        *_types(
            ROUTING_STEP,
            ("route.planned", step.RoutePlanned, "The dossier's route was planned from the catalogue."),
            ("step.assigned", step.StepAssigned, "A step was handed over to the unit responsible for it."),
        ),
        *_types(
            SLA_CLOCK,
            ("clock.started", clock.ClockStarted, "The dossier's working-time clock started."),
        ),
        *_types(
            NOTIFY_DELIVERY,
            ("notification.sent", delivery.NotificationSent, "A provider accepted a notification."),
            ("notification.failed", delivery.NotificationFailed, "A notification could not be delivered."),
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
