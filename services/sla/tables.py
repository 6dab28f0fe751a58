"""Tables sla owns.

- ``sla_fact``: each dossier's history (the events that move its clocks, and sla's own decisions); the
  clocks are computed from it, so it is the record and the rest can be rebuilt from it.
- ``dossier_clock`` and ``step_clock``: the clocks as of the last fact (one row per dossier, one per
  assignment of a step), for listings, reports and gauges; ``as_of`` answers come from the facts.
- ``sla_timer``: one row per instant sla must act at (a warning, an overdue flag, an apology), indexed on
  the instant among the timers not yet fired, so a sweep reads only what is due.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, String, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from shared.db_types import UtcDateTime

_dossier_row_version = Column("version", Integer, nullable=False)
PENDING_TIMERS = "fired_at IS NULL"
"""The predicate of ix_sla_timer_due, as migration s0002 wrote it."""


class FactRow(SQLModel, table=True):
    __tablename__ = "sla_fact"

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    )
    dossier_code: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    event_id: str = Field(sa_column=Column(String(36), nullable=False, unique=True))
    type: str = Field(sa_column=Column(String(60), nullable=False))
    occurred_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    recorded_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    payload: str = Field(sa_column=Column(Text, nullable=False))


class DossierClockRow(SQLModel, table=True):
    __tablename__ = "dossier_clock"
    __table_args__ = (Index("ix_dossier_clock_unit_accepted", "receiving_unit_code", "accepted_at"),)
    __mapper_args__: ClassVar[dict[str, object]] = {"version_id_col": _dossier_row_version}

    dossier_code: str = Field(sa_column=Column(String(64), primary_key=True))
    procedure_code: str = Field(sa_column=Column(String(64), nullable=False))
    receiving_unit_code: str = Field(sa_column=Column(String(40), nullable=False))
    channel: str = Field(sa_column=Column(String(20), nullable=False))
    accepted_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    started_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    original_appointment_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    appointment_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True, index=True))
    state: str = Field(sa_column=Column(String(20), nullable=False, index=True))
    open_exclusion: str | None = Field(default=None, sa_column=Column(String(30), nullable=True))
    ended_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True, index=True))
    outcome: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    returned_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    used_minutes: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    paused_minutes: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    current_unit_code: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    current_unit_level: str | None = Field(default=None, sa_column=Column(String(30), nullable=True))
    reset_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    apologies: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    responsible_party: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    responsible_unit_code: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    responsible_level: str | None = Field(default=None, sa_column=Column(String(30), nullable=True))
    overruns: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    version: int = Field(default=1, sa_column=_dossier_row_version)


class StepClockRow(SQLModel, table=True):
    __tablename__ = "step_clock"
    __table_args__ = (Index("ix_step_clock_open_deadline", "is_open", "deadline_at"),)

    ref: str = Field(sa_column=Column(String(48), primary_key=True))
    dossier_code: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    step_id: str = Field(sa_column=Column(String(36), nullable=False))
    seq: int = Field(sa_column=Column(Integer, nullable=False))
    attempt: int = Field(sa_column=Column(Integer, nullable=False))
    key: str = Field(default="", sa_column=Column(String(60), nullable=False))
    name: str = Field(default="", sa_column=Column(String(300), nullable=False))
    unit_code: str = Field(sa_column=Column(String(40), nullable=False, index=True))
    unit_level: str = Field(default="", sa_column=Column(String(30), nullable=False))
    from_unit_code: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    budget_minutes: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    counts: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))
    is_open: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))
    paused: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    assigned_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    accepted_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    deadline_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    ended_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    ending: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    result: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    paused_minutes: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    interconnection_minutes: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    overrun_minutes: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    interconnection_overrun_minutes: int = Field(default=0, sa_column=Column(Integer, nullable=False))


class TimerRow(SQLModel, table=True):
    __tablename__ = "sla_timer"
    __table_args__ = (
        UniqueConstraint("dossier_code", "key", name="uq_sla_timer_key"),
        Index(
            "ix_sla_timer_due",
            "due_at",
            postgresql_where=text(PENDING_TIMERS),
            sqlite_where=text(PENDING_TIMERS),
        ),
    )

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    )
    dossier_code: str = Field(sa_column=Column(String(64), nullable=False))
    key: str = Field(sa_column=Column(String(100), nullable=False))
    kind: str = Field(sa_column=Column(String(40), nullable=False))
    due_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    fired_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    payload: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    """The event's payload as JSON; None when it is written at the instant it fires."""
