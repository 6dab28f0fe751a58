"""Payloads of the delivery events notify publishes on ``notify.delivery.v1``."""

from __future__ import annotations

import uuid
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class NotificationSent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notification_id: uuid.UUID
    channel: str
    template: str
    provider_reference: str | None = None
    template_version: int | None = None
    audience: str | None = None
    provider: str | None = None
    parts: int | None = Field(default=None, description="SMS parts billed.")


class NotificationDelivered(BaseModel):
    """The provider's receipt says the message reached the recipient."""

    model_config = ConfigDict(extra="forbid")

    notification_id: uuid.UUID
    channel: str
    template: str
    delivered_at: AwareDatetime
    provider: str | None = None


class NotificationFailed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notification_id: uuid.UUID
    channel: str
    template: str
    reason: str
    status: str | None = Field(default=None, examples=["permanent-failure", "technical-failure"])
    fallback_channel: str | None = Field(default=None, description="The channel the message was re-sent on, if any.")


class PostalKind(StrEnum):
    PICKUP = "pickup"
    """The post collects a dossier the citizen files by post."""
    DELIVERY = "delivery"
    """The post delivers the result to the citizen."""


class PostalOrderUpdate(BaseModel):
    """postal.pickup_requested, postal.picked_up, postal.delivery_requested, postal.delivered, postal.failed."""

    model_config = ConfigDict(extra="forbid")

    order_id: uuid.UUID
    kind: PostalKind
    tracking_number: str | None = Field(default=None, description="The operator's tracking number (mã vận đơn).")
    status: str = Field(examples=["created", "picked_up", "delivered", "failed"])
    at: AwareDatetime
    note: str | None = Field(default=None, max_length=500)
