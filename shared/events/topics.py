"""Topic names: one per producing service, keyed by dossier code."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    name: str
    producer: str
    partitions: int
    description: str
    consumers: tuple[str, ...]
    """The services whose consumer group reads it (the group is named after the service)."""


INTAKE_DOSSIER = Topic(
    "intake.dossier.v1", "intake", 12, "Dossier lifecycle events published by intake.", ("routing", "sla", "notify")
)
ROUTING_STEP = Topic(
    "routing.step.v1",
    "routing",
    12,
    "Route, step and handover events published by routing.",
    ("intake", "sla", "notify"),
)
SLA_CLOCK = Topic(
    "sla.clock.v1",
    "sla",
    12,
    "Clock, warning, overdue and attribution events published by sla.",
    ("intake", "notify"),
)
NOTIFY_DELIVERY = Topic(
    "notify.delivery.v1", "notify", 12, "Notification and postal delivery events published by notify.", ("intake",)
)

TOPICS: dict[str, Topic] = {t.name: t for t in (INTAKE_DOSSIER, ROUTING_STEP, SLA_CLOCK, NOTIFY_DELIVERY)}


def consumed_by(service: str) -> list[str]:
    """The topics a service's consumer reads, in the catalogue's order."""
    return [t.name for t in TOPICS.values() if service in t.consumers]


def dead_letter_topic(consumer: str) -> str:
    """Where a consumer's poison messages go, with their origin and error in the headers."""
    return f"deadletter.{consumer}.v1"


def replay_topic(consumer: str) -> str:
    """Dead letters re-published for one consumer group only, once their cause is fixed."""
    return f"replay.{consumer}.v1"
