"""Tables notify owns. The notification row is the record; the bus only triggers work."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import Boolean, Column, Index, Integer, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from shared.db_types import UtcDateTime

# Optimistic concurrency: a webhook and the sender racing on one row cannot both win (StaleDataError).
_notification_version = Column("version", Integer, nullable=False)
_postal_version = Column("version", Integer, nullable=False)


class Notification(SQLModel, table=True):
    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_status_due", "status", "next_attempt_at"),)
    __mapper_args__: ClassVar[dict[str, object]] = {"version_id_col": _notification_version}

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    event_id: str = Field(sa_column=Column(String(36), nullable=False, index=True))
    event_type: str = Field(default="", sa_column=Column(String(80), nullable=False, server_default=""))
    dossier_code: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    audience: str = Field(default="citizen", sa_column=Column(String(20), nullable=False, server_default="citizen"))
    channel: str = Field(sa_column=Column(String(20), nullable=False))
    recipient: str = Field(sa_column=Column(String(254), nullable=False))
    template: str = Field(sa_column=Column(String(100), nullable=False))
    template_version: int = Field(sa_column=Column(Integer, nullable=False))
    urgent: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default="0"))
    subject: str | None = Field(default=None, sa_column=Column(String(300), nullable=True))
    body: str = Field(sa_column=Column(Text, nullable=False))
    html: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    data: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    """The template's values (typed JSON), so a fallback or a resend renders the same message anew."""
    zalo_template_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    zalo_params: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    parts: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    encoding: str | None = Field(default=None, sa_column=Column(String(10), nullable=True))
    status: str = Field(sa_column=Column(String(30), nullable=False))
    provider: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    provider_reference: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    fallback_of: str | None = Field(default=None, sa_column=Column(String(36), nullable=True))
    resend_of: str | None = Field(default=None, sa_column=Column(String(36), nullable=True))
    trace_headers: str | None = Field(default=None, sa_column=Column(String(300), nullable=True))
    """The W3C trace context of the handler that made it, so the provider call joins the dossier's trace."""
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    next_attempt_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    version: int = Field(default=1, sa_column=_notification_version)


class NotificationEvent(SQLModel, table=True):
    """Every status a notification went through, in order."""

    __tablename__ = "notification_event"

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    notification_id: str = Field(sa_column=Column(String(36), nullable=False, index=True))
    status: str = Field(sa_column=Column(String(30), nullable=False))
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class DossierContact(SQLModel, table=True):
    """How to reach a dossier's applicant, kept from intake's events: later events carry only the code."""

    __tablename__ = "dossier_contact"

    dossier_code: str = Field(sa_column=Column(String(64), primary_key=True))
    full_name: str = Field(sa_column=Column(String(200), nullable=False))
    phone: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    email: str | None = Field(default=None, sa_column=Column(String(254), nullable=True))
    address: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
    channels: str = Field(sa_column=Column(String(60), nullable=False))
    """The channels the citizen allows, in order, comma-separated."""
    submission_channel: str = Field(sa_column=Column(String(20), nullable=False))
    result_delivery: str = Field(sa_column=Column(String(20), nullable=False))
    procedure_code: str = Field(sa_column=Column(String(64), nullable=False))
    receiving_unit_code: str = Field(sa_column=Column(String(64), nullable=False))
    appointment_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class OptOut(SQLModel, table=True):
    """A citizen asked for no more messages on a channel at an address (an SMS keyword or the API)."""

    __tablename__ = "opt_out"
    __table_args__ = (UniqueConstraint("channel", "address", name="uq_opt_out_channel_address"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    channel: str = Field(sa_column=Column(String(20), nullable=False))
    address: str = Field(sa_column=Column(String(254), nullable=False))
    source: str = Field(sa_column=Column(String(40), nullable=False))
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class PostalOrder(SQLModel, table=True):
    """A pickup of a dossier filed by post, or a delivery of a result returned by post."""

    __tablename__ = "postal_order"
    __table_args__ = (Index("ix_postal_order_status_due", "status", "next_attempt_at"),)
    __mapper_args__: ClassVar[dict[str, object]] = {"version_id_col": _postal_version}

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    dossier_code: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    kind: str = Field(sa_column=Column(String(20), nullable=False))
    status: str = Field(sa_column=Column(String(20), nullable=False))
    tracking_number: str | None = Field(default=None, sa_column=Column(String(40), nullable=True, unique=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    phone: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    address: str = Field(sa_column=Column(String(500), nullable=False))
    cause_event_id: str = Field(sa_column=Column(String(36), nullable=False))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    next_attempt_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    version: int = Field(default=1, sa_column=_postal_version)


class PostalOrderEvent(SQLModel, table=True):
    __tablename__ = "postal_order_event"

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    order_id: str = Field(sa_column=Column(String(36), nullable=False, index=True))
    status: str = Field(sa_column=Column(String(20), nullable=False))
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class ProviderReceipt(SQLModel, table=True):
    """Every receipt or webhook a provider sent, and what was made of it; its key refuses replays."""

    __tablename__ = "provider_receipt"

    provider: str = Field(sa_column=Column(String(40), primary_key=True))
    receipt_id: str = Field(sa_column=Column(String(100), primary_key=True))
    reference: str = Field(sa_column=Column(String(100), nullable=False))
    status: str = Field(sa_column=Column(String(30), nullable=False))
    outcome: str = Field(sa_column=Column(String(30), nullable=False))
    received_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class ParkedEvent(SQLModel, table=True):
    """An event about a dossier whose contact notify does not know yet. Topics are ordered per dossier but
    not across producers: routing's `dossier.resolved` can arrive before intake's `dossier.accepted` (a
    consumer that restarts catches up on one topic first). It is applied when the contact arrives."""

    __tablename__ = "parked_event"

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    event_id: str = Field(sa_column=Column(String(36), nullable=False, unique=True))
    dossier_code: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    event_type: str = Field(sa_column=Column(String(80), nullable=False))
    envelope: str = Field(sa_column=Column(Text, nullable=False))
    parked_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
