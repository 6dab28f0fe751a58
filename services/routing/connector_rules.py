"""The outbound connector's rules: delivery ids, what an answer means, retry delays. No I/O here.

A step handed over to a unit whose work is done in an external system (the land office's software, the tax
system) gets one delivery per handover: the row is the queue. Its id, sent as ``Idempotency-Key``, is derived
from the step and the attempt, so every retry of one handover carries the same key and a handover sent back
to later is a new delivery.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from enum import StrEnum


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # not yet accepted by the external system
    DELIVERED = "delivered"  # the external system answered 2xx; waiting for its acknowledgement
    ACKNOWLEDGED = "acknowledged"  # the signed acknowledgement arrived: the interconnection is done
    DEAD = "dead"  # refused for good (or too many failures): a connector dead letter, replayable
    CLOSED = "closed"  # the step was accepted by its unit or ended before any acknowledgement


OPEN_STATUSES = frozenset({DeliveryStatus.PENDING, DeliveryStatus.DELIVERED})


class Answer(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    PERMANENT = "permanent"


def delivery_id_for(step_id: uuid.UUID | str, attempt: int) -> uuid.UUID:
    """Deterministic: every retry of a handover carries the same Idempotency-Key."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"lienthong:delivery:{step_id}:{attempt}")


def classify(status_code: int) -> Answer:
    """2xx delivered; 408, 429 and 5xx are worth retrying; any other answer will not change by retrying."""
    if 200 <= status_code < 300:
        return Answer.DELIVERED
    if status_code in (408, 429) or status_code >= 500:
        return Answer.RETRY
    return Answer.PERMANENT


def backoff_delay(attempt: int, initial_s: float, max_s: float, rand: Callable[[], float] = random.random) -> float:
    """Seconds before retry number ``attempt`` (1-based): exponential, capped, with jitter.

    The ceiling doubles from ``initial_s`` up to ``max_s``; the delay is drawn from its upper half ("equal
    jitter"), so retries of many deliveries that failed together spread out, yet never come sooner than half
    the ceiling.
    """
    exponent = min(max(attempt, 1) - 1, 32)
    ceiling = min(max_s, initial_s * 2.0**exponent)
    return ceiling / 2 + ceiling / 2 * rand()
