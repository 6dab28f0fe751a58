"""The one envelope every event travels in (DESIGN.md, "Events")."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Envelope(BaseModel):
    """An event as it travels on the bus. The payload's shape depends on ``type`` and ``version``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: uuid.UUID = Field(description="Unique id; consumers deduplicate on it.")
    type: str = Field(min_length=1, max_length=100, examples=["dossier.accepted"])
    version: int = Field(ge=1, description="Schema version of the payload for this type.")
    occurred_at: AwareDatetime = Field(description="Business time of what happened.")
    recorded_at: AwareDatetime = Field(description="When the producer recorded it.")
    dossier_code: str = Field(min_length=1, max_length=64, description="Kafka key; orders a dossier's events.")
    producer: str = Field(min_length=1, max_length=40)
    payload: dict[str, Any]

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        return cls.model_validate_json(raw)


def new_envelope(
    *,
    type: str,
    dossier_code: str,
    producer: str,
    payload: BaseModel,
    occurred_at: datetime | None = None,
    event_id: uuid.UUID | None = None,
) -> Envelope:
    """Build an envelope for a registered event type, validating the payload against its model."""
    from shared.events.registry import event_type

    spec = event_type(type)
    if not isinstance(payload, spec.payload):
        raise TypeError(f"{type} expects a {spec.payload.__name__} payload, got {payload.__class__.__name__}")
    now = datetime.now(UTC)
    return Envelope(
        event_id=event_id or uuid.uuid4(),
        type=type,
        version=spec.version,
        occurred_at=occurred_at or now,
        recorded_at=now,
        dossier_code=dossier_code,
        producer=producer,
        payload=payload.model_dump(mode="json"),
    )
