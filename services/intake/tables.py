"""Tables intake owns."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import BigInteger, Boolean, Column, Float, Integer, String, Text
from sqlmodel import Field, SQLModel

from shared.db_types import UtcDateTime

_dossier_version = Column("version", Integer, nullable=False)


class Dossier(SQLModel, table=True):
    __tablename__ = "dossier"
    # Optimistic concurrency: an UPDATE that finds another version fails (StaleDataError → 409).
    __mapper_args__: ClassVar[dict[str, object]] = {"version_id_col": _dossier_version}

    code: str = Field(sa_column=Column(String(64), primary_key=True))
    procedure_code: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    procedure_name: str = Field(default="", sa_column=Column(String(500), nullable=False))
    receiving_unit_code: str = Field(sa_column=Column(String(40), nullable=False, index=True))
    receiving_unit_name: str = Field(default="", sa_column=Column(String(300), nullable=False))
    channel: str = Field(sa_column=Column(String(20), nullable=False))
    status: str = Field(sa_column=Column(String(30), nullable=False, index=True))
    status_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    paused_from: str | None = Field(default=None, sa_column=Column(String(30), nullable=True))
    applicant_name: str = Field(sa_column=Column(String(200), nullable=False))
    applicant_id_number: str | None = Field(default=None, sa_column=Column(String(12), nullable=True))
    applicant_phone: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    applicant_email: str | None = Field(default=None, sa_column=Column(String(254), nullable=True))
    applicant_address: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
    notification_channels: str | None = Field(default=None, sa_column=Column(String(60), nullable=True))
    """Comma-separated, in the applicant's order; None: not given."""
    proxy: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    documents: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    result_delivery: str = Field(default="desk", sa_column=Column(String(20), nullable=False))
    external_id: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))
    commune_code: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    submitted_by: str = Field(default="", sa_column=Column(String(32), nullable=False))
    received_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False, index=True))
    accepted_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    clock_starts_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    appointment_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    original_appointment_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    statutory_amount: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    statutory_unit: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    interconnected: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    tracking_number: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    updated_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    version: int = Field(default=1, sa_column=_dossier_version)


class DossierSequence(SQLModel, table=True):
    """The last number issued per receiving unit and period (a day for codes, a year for the tracking book);
    incremented in the dossier's own transaction, so numbers are gap-free."""

    __tablename__ = "dossier_sequence"

    unit_code: str = Field(sa_column=Column(String(40), primary_key=True))
    day: str = Field(sa_column=Column(String(10), primary_key=True))
    last_value: int = Field(sa_column=Column(Integer, nullable=False))


class TimelineEntry(SQLModel, table=True):
    """Everything that happened to a dossier, in order, for its page and the national sync."""

    __tablename__ = "dossier_timeline"

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    )
    dossier_code: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    occurred_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    recorded_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    type: str = Field(sa_column=Column(String(100), nullable=False))
    status: str | None = Field(default=None, sa_column=Column(String(30), nullable=True))
    actor: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
