"""Notify's rules: notification identity, statuses and their one guarded transition. No I/O here."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from enum import StrEnum


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    ZALO = "zalo"


class NotificationStatus(StrEnum):
    CREATED = "created"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    PERMANENT_FAILURE = "permanent-failure"
    TEMPORARY_FAILURE = "temporary-failure"
    TECHNICAL_FAILURE = "technical-failure"

    @property
    def final(self) -> bool:
        return self in _FINAL


_FINAL = {
    NotificationStatus.DELIVERED,
    NotificationStatus.PERMANENT_FAILURE,
    NotificationStatus.TECHNICAL_FAILURE,
}

_ALLOWED: dict[NotificationStatus, set[NotificationStatus]] = {
    NotificationStatus.CREATED: {NotificationStatus.SENDING, NotificationStatus.TECHNICAL_FAILURE},
    NotificationStatus.SENDING: {
        NotificationStatus.SENT,
        NotificationStatus.DELIVERED,
        NotificationStatus.TEMPORARY_FAILURE,
        NotificationStatus.PERMANENT_FAILURE,
        NotificationStatus.TECHNICAL_FAILURE,
    },
    NotificationStatus.SENT: {
        NotificationStatus.DELIVERED,
        NotificationStatus.TEMPORARY_FAILURE,
        NotificationStatus.PERMANENT_FAILURE,
    },
    NotificationStatus.TEMPORARY_FAILURE: {NotificationStatus.SENDING, NotificationStatus.TECHNICAL_FAILURE},
}


class IllegalTransition(ValueError):
    pass


def check_transition(current: NotificationStatus, new: NotificationStatus) -> None:
    """The one rule for every status change: final statuses never change."""
    if new not in _ALLOWED.get(current, set()):
        raise IllegalTransition(f"{current.value} → {new.value} is not allowed")


def notification_id(event_id: uuid.UUID, channel: Channel, recipient: str) -> uuid.UUID:
    """Derived from what caused it, so a redelivered event maps onto the same notification."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"lienthong:notification:{event_id}:{channel.value}:{recipient}")


def is_back_dated(occurred_at: datetime, recorded_at: datetime, max_age: timedelta) -> bool:
    """An event recorded long after it happened (a legacy import, a back-dated correction) tells of the
    past: the citizen is not messaged about it. An event delayed in transit keeps ``recorded_at`` close
    to ``occurred_at`` and is still announced, however late it arrives."""
    return recorded_at - occurred_at > max_age
