"""Tables intake owns."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Integer, String
from sqlmodel import Field, SQLModel

from shared.db_types import UtcDateTime


class Dossier(SQLModel, table=True):
    __tablename__ = "dossier"

    code: str = Field(sa_column=Column(String(64), primary_key=True))
    procedure_code: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    receiving_unit_code: str = Field(sa_column=Column(String(40), nullable=False, index=True))
    channel: str = Field(sa_column=Column(String(20), nullable=False))
    status: str = Field(sa_column=Column(String(30), nullable=False))
    applicant_name: str = Field(sa_column=Column(String(200), nullable=False))
    applicant_phone: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    applicant_email: str | None = Field(default=None, sa_column=Column(String(254), nullable=True))
    received_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    appointment_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))


class DossierSequence(SQLModel, table=True):
    """The last number issued per receiving unit and day; incremented in the dossier's transaction."""

    __tablename__ = "dossier_sequence"

    unit_code: str = Field(sa_column=Column(String(40), primary_key=True))
    day: str = Field(sa_column=Column(String(10), primary_key=True))
    last_value: int = Field(sa_column=Column(Integer, nullable=False))
