"""Tables every service has in its own database: outbox, inbox, dead letters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, String, Text, text
from sqlmodel import Field, SQLModel

from shared.db_types import UtcDateTime

if TYPE_CHECKING:
    from shared.events.envelope import Envelope

OUTBOX_SLOTS = 32
"""Outbox rows are spread over this many slots by key; one relay at a time owns a slot, which keeps
per-dossier order while several relays share the work on PostgreSQL."""


class OutboxRecord(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (
        Index(
            "ix_outbox_unsent",
            "slot",
            "id",
            postgresql_where=text("sent_at IS NULL"),
            sqlite_where=text("sent_at IS NULL"),
        ),
    )

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    )
    event_id: str = Field(sa_column=Column(String(36), nullable=False, unique=True))
    topic: str = Field(sa_column=Column(String(200), nullable=False))
    key: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    event_type: str = Field(sa_column=Column(String(100), nullable=False))
    value: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    headers: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    slot: int = Field(sa_column=Column(Integer, nullable=False))
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))


class OutboxSlot(SQLModel, table=True):
    __tablename__ = "outbox_slot"

    slot: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))


class InboxRecord(SQLModel, table=True):
    __tablename__ = "inbox"

    consumer: str = Field(sa_column=Column(String(100), primary_key=True))
    event_id: str = Field(sa_column=Column(String(64), primary_key=True))
    event_type: str = Field(sa_column=Column(String(100), nullable=False))
    processed_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))

    @classmethod
    def of(cls, consumer: str, envelope: Envelope) -> InboxRecord:
        """The row that says ``consumer`` has applied this event, now."""
        return cls(
            consumer=consumer, event_id=str(envelope.event_id), event_type=envelope.type, processed_at=datetime.now(UTC)
        )


class DeadLetter(SQLModel, table=True):
    __tablename__ = "dead_letter"

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    )
    consumer: str = Field(sa_column=Column(String(100), nullable=False, index=True))
    topic: str = Field(sa_column=Column(String(200), nullable=False))
    partition: int = Field(sa_column=Column(Integer, nullable=False))
    offset: int = Field(sa_column=Column(BigInteger, nullable=False))
    key: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    value: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    headers: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    event_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    event_type: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))
    error_class: str = Field(sa_column=Column(String(200), nullable=False))
    error: str = Field(sa_column=Column(Text, nullable=False))
    attempts: int = Field(sa_column=Column(Integer, nullable=False))
    failed_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    replayed_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
