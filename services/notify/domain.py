"""Notify's rules: notification identity, statuses and their one guarded transition, which channels a
citizen is reached on and in what order, quiet hours and the retry schedule. No I/O here."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from services.notify.sms_text import strip_accents

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    ZALO = "zalo"


class Audience(StrEnum):
    CITIZEN = "citizen"
    UNIT = "unit"
    DESK = "desk"


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

    @property
    def failed(self) -> bool:
        return self in (NotificationStatus.PERMANENT_FAILURE, NotificationStatus.TECHNICAL_FAILURE)


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
        NotificationStatus.PERMANENT_FAILURE,
        NotificationStatus.TEMPORARY_FAILURE,
    },
    NotificationStatus.TEMPORARY_FAILURE: {
        NotificationStatus.SENDING,
        NotificationStatus.DELIVERED,  # the operator had it after all (an ambiguous timeout): its receipt
        NotificationStatus.PERMANENT_FAILURE,
        NotificationStatus.TECHNICAL_FAILURE,
    },
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


def resend_id(original: str, requested_at: datetime) -> uuid.UUID:
    """An administrator's resend is a new notification; the request instant keeps a retried resend single."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"lienthong:resend:{original}:{requested_at.isoformat()}")


def postal_order_id(dossier_code: str, kind: str) -> uuid.UUID:
    """One pickup and one delivery order per dossier, whatever redelivers the event asking for it."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"lienthong:postal:{dossier_code}:{kind}")


def is_back_dated(occurred_at: datetime, recorded_at: datetime, max_age: timedelta) -> bool:
    """An event recorded long after it happened (a legacy import, a back-dated correction) tells of the
    past: the citizen is not messaged about it. An event delayed in transit keeps ``recorded_at`` close
    to ``occurred_at`` and is still announced, however late it arrives."""
    return recorded_at - occurred_at > max_age


# ---- channels ------------------------------------------------------------------------------------

DEFAULT_ORDER: tuple[Channel, ...] = (Channel.SMS, Channel.ZALO, Channel.EMAIL)
"""The fallback chain: a message that cannot reach the citizen's phone by SMS goes by Zalo, then email."""
PHONE_CHANNELS = frozenset({Channel.SMS, Channel.ZALO})


@dataclass(frozen=True)
class Contact:
    phone: str | None
    email: str | None
    channels: tuple[Channel, ...] = DEFAULT_ORDER
    """The channels the citizen allows, in the order they prefer them."""

    def address(self, channel: Channel) -> str | None:
        return self.email if channel is Channel.EMAIL else self.phone


@dataclass(frozen=True)
class Delivery:
    channel: Channel
    recipient: str


def _reachable(contact: Contact, offered: Iterable[Channel], opted_out: set[tuple[Channel, str]]) -> list[Delivery]:
    offered_set = set(offered)
    out: list[Delivery] = []
    for channel in contact.channels:
        address = contact.address(channel)
        if channel in offered_set and address and (channel, address) not in opted_out:
            out.append(Delivery(channel, address))
    return out


def plan_deliveries(
    contact: Contact, offered: Iterable[Channel], opted_out: set[tuple[Channel, str]]
) -> list[Delivery]:
    """Where one message goes: the first phone channel the citizen allows and can be reached on, plus email
    when allowed (it carries the full letter). With no phone channel, email alone; with nothing, nothing."""
    reachable = _reachable(contact, offered, opted_out)
    phone = next((d for d in reachable if d.channel in PHONE_CHANNELS), None)
    email = next((d for d in reachable if d.channel is Channel.EMAIL), None)
    return [d for d in (phone, email) if d is not None]


def fallback_delivery(
    contact: Contact,
    failed: Channel,
    offered: Iterable[Channel],
    opted_out: set[tuple[Channel, str]],
    already: Sequence[Channel],
) -> Delivery | None:
    """The next channel after one whose message failed for good, skipping those the event already used."""
    reachable = _reachable(contact, offered, opted_out)
    order = [d.channel for d in reachable]
    start = order.index(failed) + 1 if failed in order else 0
    for d in reachable[start:]:
        if d.channel not in already and d.channel is not failed:
            return d
    return None


# ---- quiet hours and retries ------------------------------------------------------------------------


@dataclass(frozen=True)
class QuietHours:
    start: time = time(21, 0)
    end: time = time(7, 0)

    def release_at(self, now: datetime) -> datetime | None:
        """When a non-urgent message created ``now`` may be sent: None if now is outside quiet hours."""
        if self.start == self.end:
            return None
        local = now.astimezone(VN_TZ)
        t = local.timetz().replace(tzinfo=None)
        overnight = self.start > self.end
        inside = (t >= self.start or t < self.end) if overnight else (self.start <= t < self.end)
        if not inside:
            return None
        release = local.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        if release <= local:
            release += timedelta(days=1)
        return release

    def hold(self, channel: Channel, urgent: bool, at: datetime) -> datetime | None:
        """When a message due ``at`` may go: non-urgent SMS and Zalo wait out quiet hours; None: at once."""
        if urgent or channel not in PHONE_CHANNELS:
            return None
        return self.release_at(at)


RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=4),
    timedelta(hours=8),
)
"""Transient failures are retried over about 16 hours: an operator's outage is usually hours, not seconds."""


def retry_delay(attempts: int, schedule: Sequence[timedelta] = RETRY_DELAYS) -> timedelta | None:
    """The wait before the next attempt after ``attempts`` failed ones; None when retries are exhausted."""
    if attempts < 1:
        raise ValueError("attempts are counted from 1")
    return schedule[attempts - 1] if attempts <= len(schedule) else None


def national_number(phone: str) -> str:
    """A Vietnamese mobile number as the platform stores it (0912345678), from 84912345678 or +84 912…"""
    digits = "".join(c for c in phone if c.isdigit())
    if digits.startswith("84") and len(digits) == 11:
        return "0" + digits[2:]
    return digits


OPT_OUT_KEYWORDS = frozenset({"TC", "TUCHOI", "HUY", "STOP"})
OPT_IN_KEYWORDS = frozenset({"DK", "DANGKY", "START"})


def sms_keyword(text: str) -> str | None:
    """'opt-out' or 'opt-in' for a citizen's inbound SMS keyword (accents and case ignored), else None."""
    word = "".join(c for c in strip_accents(text).upper() if c.isalnum())
    if word in OPT_OUT_KEYWORDS:
        return "opt-out"
    if word in OPT_IN_KEYWORDS:
        return "opt-in"
    return None
