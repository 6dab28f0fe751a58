"""Event envelope, topics and the catalogue of event types every service agrees on."""

from shared.events.envelope import Envelope, new_envelope
from shared.events.registry import EVENT_TYPES, EventType, event_type, is_known
from shared.events.topics import TOPICS, Topic

__all__ = [
    "EVENT_TYPES",
    "TOPICS",
    "Envelope",
    "EventType",
    "Topic",
    "event_type",
    "is_known",
    "new_envelope",
]
