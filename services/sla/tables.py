"""Tables sla owns."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Integer, String
from sqlmodel import Field, SQLModel

from shared.db_types import UtcDateTime


class DossierClock(SQLModel, table=True):
    __tablename__ = "dossier_clock"

    dossier_code: str = Field(sa_column=Column(String(64), primary_key=True))
    procedure_code: str = Field(sa_column=Column(String(64), nullable=False))
    receiving_unit_code: str = Field(sa_column=Column(String(40), nullable=False, index=True))
    started_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    appointment_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    state: str = Field(sa_column=Column(String(20), nullable=False))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))


class StepClock(SQLModel, table=True):
    __tablename__ = "step_clock"

    step_id: str = Field(sa_column=Column(String(36), primary_key=True))
    dossier_code: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    seq: int = Field(sa_column=Column(Integer, nullable=False))
    unit_code: str = Field(sa_column=Column(String(40), nullable=False, index=True))
    started_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    deadline_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
