"""SLA: clocks computed from each dossier's facts; timers indexed on their due instant.

The clock tables of s0001 held only what dossier.accepted and step.assigned said; they are replaced by
projections of ``sla_fact`` (nothing was derived from them that cannot be rebuilt).

Revision ID: s0002
Revises: s0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "s0002"
down_revision: str | None = "s0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.drop_table("step_clock")
    op.drop_table("dossier_clock")
    op.create_table(
        "sla_fact",
        sa.Column("id", BIGINT, primary_key=True, autoincrement=True),
        sa.Column("dossier_code", sa.String(64), nullable=False, index=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("type", sa.String(60), nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
    )
    op.create_table(
        "dossier_clock",
        sa.Column("dossier_code", sa.String(64), primary_key=True),
        sa.Column("procedure_code", sa.String(64), nullable=False),
        sa.Column("receiving_unit_code", sa.String(40), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("accepted_at", TS, nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("original_appointment_at", TS, nullable=True),
        sa.Column("appointment_at", TS, nullable=True, index=True),
        sa.Column("state", sa.String(20), nullable=False, index=True),
        sa.Column("open_exclusion", sa.String(30), nullable=True),
        sa.Column("ended_at", TS, nullable=True, index=True),
        sa.Column("outcome", sa.String(20), nullable=True),
        sa.Column("returned_at", TS, nullable=True),
        sa.Column("used_minutes", sa.Integer(), nullable=False),
        sa.Column("paused_minutes", sa.Integer(), nullable=False),
        sa.Column("current_unit_code", sa.String(40), nullable=True),
        sa.Column("current_unit_level", sa.String(30), nullable=True),
        sa.Column("reset_at", TS, nullable=True),
        sa.Column("apologies", sa.Integer(), nullable=False),
        sa.Column("responsible_party", sa.String(20), nullable=True),
        sa.Column("responsible_unit_code", sa.String(40), nullable=True),
        sa.Column("responsible_level", sa.String(30), nullable=True),
        sa.Column("overruns", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_dossier_clock_unit_accepted", "dossier_clock", ["receiving_unit_code", "accepted_at"])
    op.create_table(
        "step_clock",
        sa.Column("ref", sa.String(48), primary_key=True),
        sa.Column("dossier_code", sa.String(64), nullable=False, index=True),
        sa.Column("step_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(60), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("unit_code", sa.String(40), nullable=False, index=True),
        sa.Column("unit_level", sa.String(30), nullable=False),
        sa.Column("from_unit_code", sa.String(40), nullable=True),
        sa.Column("budget_minutes", sa.Integer(), nullable=False),
        sa.Column("counts", sa.Boolean(), nullable=False),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("assigned_at", TS, nullable=False),
        sa.Column("accepted_at", TS, nullable=True),
        sa.Column("deadline_at", TS, nullable=True),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("ending", sa.String(20), nullable=True),
        sa.Column("result", sa.String(20), nullable=True),
        sa.Column("paused_minutes", sa.Integer(), nullable=False),
        sa.Column("interconnection_minutes", sa.Integer(), nullable=False),
        sa.Column("overrun_minutes", sa.Integer(), nullable=False),
        sa.Column("interconnection_overrun_minutes", sa.Integer(), nullable=False),
    )
    op.create_index("ix_step_clock_open_deadline", "step_clock", ["is_open", "deadline_at"])
    op.create_table(
        "sla_timer",
        sa.Column("id", BIGINT, primary_key=True, autoincrement=True),
        sa.Column("dossier_code", sa.String(64), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("fired_at", TS, nullable=True),
        sa.UniqueConstraint("dossier_code", "key", name="uq_sla_timer_key"),
    )
    op.create_index(
        "ix_sla_timer_due",
        "sla_timer",
        ["due_at"],
        postgresql_where=sa.text("fired_at IS NULL"),
        sqlite_where=sa.text("fired_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("sla_timer")
    op.drop_table("step_clock")
    op.drop_table("dossier_clock")
    op.drop_table("sla_fact")
