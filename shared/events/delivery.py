"""Payloads of the delivery events notify publishes on ``notify.delivery.v1``."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict


class NotificationSent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notification_id: uuid.UUID
    channel: str
    template: str
    provider_reference: str | None = None


class NotificationFailed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notification_id: uuid.UUID
    channel: str
    template: str
    reason: str
