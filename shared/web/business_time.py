"""When an action happened: now, or a back-dated instant that only the ``import`` scope may give."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.web.problems import Problem

CLOCK_SKEW = timedelta(minutes=5)


def business_time(may_backdate: bool, occurred_at: datetime | None, now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    if occurred_at is None:
        return now
    if not may_backdate:
        raise Problem(
            403,
            "Forbidden",
            "Only a key with the import scope may set occurred_at.",
            errors=[{"source": "body", "field": "occurred_at", "reason": "needs the import scope"}],
        )
    if occurred_at > now + CLOCK_SKEW:
        raise Problem(
            422,
            "Invalid request",
            "occurred_at is in the future.",
            errors=[{"source": "body", "field": "occurred_at", "reason": "must not be in the future"}],
        )
    return occurred_at
