"""Tables routing owns."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from shared.db_types import UtcDateTime


class Step(SQLModel, table=True):
    __tablename__ = "step"
    __table_args__ = (UniqueConstraint("dossier_code", "seq", name="uq_step_dossier_seq"),)

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    dossier_code: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    seq: int = Field(sa_column=Column(Integer, nullable=False))
    unit_code: str = Field(sa_column=Column(String(40), nullable=False, index=True))
    status: str = Field(sa_column=Column(String(20), nullable=False))
    assigned_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
