"""Tables routing owns.

- ``route``: one per dossier, the procedure, map and route version pinned at planning.
- ``step``: one per step of the route, with its current state (the aggregate agencies act on; a version
  column makes two concurrent actions on one step fail the second: StaleDataError → 409).
- ``handover``: one per assignment of a step (a step sent back to gets a new one): the rows of the
  process control slip, kept as history and never overwritten by a later attempt.
- ``handover_delivery``: one per handover of an external step: the outbound connector's queue and record
  (connector.py), with the instants it is due to be sent and due to be acknowledged, each indexed.
- ``connector_dead_letter``: deliveries refused for good, with the reason, until replayed.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, String, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from shared.db_types import UtcDateTime

_route_row_version = Column("version", Integer, nullable=False)
_step_row_version = Column("version", Integer, nullable=False)
_delivery_row_version = Column("version", Integer, nullable=False)
OPEN_STEPS = "status IN ('assigned', 'accepted', 'paused_for_citizen')"
"""The predicate of ix_step_open_inbox, as migration r0004 wrote it."""


class Route(SQLModel, table=True):
    __tablename__ = "route"
    __mapper_args__: ClassVar[dict[str, object]] = {"version_id_col": _route_row_version}

    dossier_code: str = Field(sa_column=Column(String(64), primary_key=True))
    procedure_code: str = Field(sa_column=Column(String(64), nullable=False))
    procedure_name: str = Field(default="", sa_column=Column(String(500), nullable=False))
    receiving_unit_code: str = Field(sa_column=Column(String(40), nullable=False))
    unit_map: str = Field(sa_column=Column("map", String(20), nullable=False))
    route_version: str = Field(sa_column=Column(String(40), nullable=False))
    status: str = Field(sa_column=Column(String(20), nullable=False))
    planned_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    outcome: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    close_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    version: int = Field(default=1, sa_column=_route_row_version)


class Step(SQLModel, table=True):
    __tablename__ = "step"
    __table_args__ = (
        UniqueConstraint("dossier_code", "seq", name="uq_step_dossier_seq"),
        Index("ix_step_inbox", "unit_code", "status", "assigned_at", "id"),
        # The open steps alone, in inbox order (migration r0004).
        Index(
            "ix_step_open_inbox",
            "unit_code",
            "assigned_at",
            "id",
            postgresql_where=text(OPEN_STEPS),
            sqlite_where=text(OPEN_STEPS),
        ),
    )
    __mapper_args__: ClassVar[dict[str, object]] = {"version_id_col": _step_row_version}

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    dossier_code: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    seq: int = Field(sa_column=Column(Integer, nullable=False))
    key: str = Field(default="", sa_column=Column(String(60), nullable=False))
    name: str = Field(default="", sa_column=Column(String(300), nullable=False))
    unit_code: str = Field(sa_column=Column(String(40), nullable=False, index=True))
    unit_level: str = Field(default="", sa_column=Column(String(30), nullable=False))
    budget_minutes: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    counts: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))
    external: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    external_system: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    status: str = Field(sa_column=Column(String(20), nullable=False))
    attempt: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    assigned_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    accepted_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    deadline_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    paused_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    paused_from: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    pause_kind: str | None = Field(default=None, sa_column=Column(String(30), nullable=True))
    overdue_when_paused: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    outcome: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # Business time of the last action (actions never go back before it), and when it was recorded.
    changed_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    updated_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    version: int = Field(default=1, sa_column=_step_row_version)


class Handover(SQLModel, table=True):
    """A row of the process control slip (Phiếu kiểm soát quá trình giải quyết hồ sơ)."""

    __tablename__ = "handover"
    __table_args__ = (
        UniqueConstraint("dossier_code", "n", name="uq_handover_dossier_n"),
        UniqueConstraint("step_id", "attempt", name="uq_handover_step_attempt"),
    )

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    dossier_code: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    n: int = Field(sa_column=Column(Integer, nullable=False))  # row number on the dossier's slip
    step_id: str = Field(sa_column=Column(String(36), nullable=False))
    seq: int = Field(sa_column=Column(Integer, nullable=False))
    attempt: int = Field(sa_column=Column(Integer, nullable=False))
    step_key: str = Field(default="", sa_column=Column(String(60), nullable=False))
    step_name: str = Field(default="", sa_column=Column(String(300), nullable=False))
    kind: str = Field(sa_column=Column(String(20), nullable=False))
    from_unit_code: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    from_unit_level: str | None = Field(default=None, sa_column=Column(String(30), nullable=True))
    to_unit_code: str = Field(sa_column=Column(String(40), nullable=False))
    to_unit_level: str = Field(default="", sa_column=Column(String(30), nullable=False))
    handed_over_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    accepted_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    deadline_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    ended: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    outcome: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    result: str | None = Field(default=None, sa_column=Column(String(10), nullable=True))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    paused_minutes: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    failure_reported_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    failure_reported_by: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    failure_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # External steps: the system handed over to, when it acknowledged, and the working minutes the
    # interconnection took (handover → acknowledgement, or → now while unacknowledged), not the unit's.
    external_system: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    acknowledged_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    external_reference: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    interconnection_minutes: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))


class HandoverDelivery(SQLModel, table=True):
    """The handover of an external step to its system: the row is the queue (``next_attempt_at``) and the
    acknowledgement watch (``ack_due_at``); each is cleared when nothing more is due, so the worker's scans
    read only what is due."""

    __tablename__ = "handover_delivery"
    __table_args__ = (
        UniqueConstraint("step_id", "attempt", name="uq_delivery_step_attempt"),
        Index("ix_delivery_next_attempt", "next_attempt_at"),
        Index("ix_delivery_ack_due", "ack_due_at"),
    )
    __mapper_args__: ClassVar[dict[str, object]] = {"version_id_col": _delivery_row_version}

    id: str = Field(sa_column=Column(String(36), primary_key=True))  # the Idempotency-Key
    handover_id: str = Field(sa_column=Column(String(36), nullable=False))
    step_id: str = Field(sa_column=Column(String(36), nullable=False))
    attempt: int = Field(sa_column=Column(Integer, nullable=False))
    dossier_code: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    external_system: str = Field(sa_column=Column(String(40), nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))  # the JSON sent, the same on every retry
    status: str = Field(sa_column=Column(String(20), nullable=False))
    sends: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    failures: int = Field(default=0, sa_column=Column(Integer, nullable=False))  # in a row
    next_attempt_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    ack_due_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    last_status_code: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    delivered_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    acknowledged_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    external_reference: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    unacknowledged_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    completed_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    version: int = Field(default=1, sa_column=_delivery_row_version)


class ConnectorDeadLetter(SQLModel, table=True):
    """A delivery the external system refused for good (or that failed too often), until replayed."""

    __tablename__ = "connector_dead_letter"

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    )
    delivery_id: str = Field(sa_column=Column(String(36), nullable=False, index=True))
    dossier_code: str = Field(sa_column=Column(String(64), nullable=False))
    external_system: str = Field(sa_column=Column(String(40), nullable=False))
    status_code: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    reason: str = Field(sa_column=Column(Text, nullable=False))
    sends: int = Field(sa_column=Column(Integer, nullable=False))
    failed_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    replayed_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
