"""The one guarded function through which every notification status change goes."""

from __future__ import annotations

from datetime import UTC, datetime

from services.notify.domain import NotificationStatus, check_transition
from services.notify.metrics import TRANSITIONS
from services.notify.tables import Notification, NotificationEvent
from shared.bus.unit_of_work import UnitOfWork


def transition(uow: UnitOfWork, n: Notification, new: NotificationStatus, detail: str | None = None) -> None:
    """Check the change against the rules (final statuses never change), record it in the history."""
    check_transition(NotificationStatus(n.status), new)
    now = datetime.now(UTC)
    n.status = new.value
    n.updated_at = now
    uow.session.add(n)
    uow.session.add(NotificationEvent(notification_id=n.id, status=new.value, at=now, detail=detail))
    TRANSITIONS.labels(n.channel, n.template, new.value).inc()
