"""Routing: routes pinned at planning, step details and state, and the handover log.

Revision ID: r0002
Revises: r0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "r0002"
down_revision: str | None = "r0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "route",
        sa.Column("dossier_code", sa.String(64), primary_key=True),
        sa.Column("procedure_code", sa.String(64), nullable=False),
        sa.Column("procedure_name", sa.String(500), nullable=False, server_default=""),
        sa.Column("receiving_unit_code", sa.String(40), nullable=False),
        sa.Column("map", sa.String(20), nullable=False),
        sa.Column("route_version", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("planned_at", When, nullable=False),
        sa.Column("closed_at", When, nullable=True),
        sa.Column("outcome", sa.String(40), nullable=True),
        sa.Column("close_reason", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    with op.batch_alter_table("step") as batch:
        batch.add_column(sa.Column("key", sa.String(60), nullable=False, server_default=""))
        batch.add_column(sa.Column("name", sa.String(300), nullable=False, server_default=""))
        batch.add_column(sa.Column("unit_level", sa.String(30), nullable=False, server_default=""))
        batch.add_column(sa.Column("budget_minutes", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("counts", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column("external", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("attempt", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("accepted_at", When, nullable=True))
        batch.add_column(sa.Column("deadline_at", When, nullable=True))
        batch.add_column(sa.Column("paused_at", When, nullable=True))
        batch.add_column(sa.Column("paused_from", sa.String(20), nullable=True))
        batch.add_column(sa.Column("pause_kind", sa.String(30), nullable=True))
        batch.add_column(sa.Column("overdue_when_paused", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("finished_at", When, nullable=True))
        batch.add_column(sa.Column("outcome", sa.String(40), nullable=True))
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))
        batch.add_column(sa.Column("changed_at", When, nullable=True))
        batch.add_column(sa.Column("updated_at", When, nullable=True))
        batch.create_index("ix_step_inbox", ["unit_code", "status", "assigned_at", "id"])
    op.create_table(
        "handover",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("dossier_code", sa.String(64), nullable=False, index=True),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("step_key", sa.String(60), nullable=False, server_default=""),
        sa.Column("step_name", sa.String(300), nullable=False, server_default=""),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("from_unit_code", sa.String(40), nullable=True),
        sa.Column("from_unit_level", sa.String(30), nullable=True),
        sa.Column("to_unit_code", sa.String(40), nullable=False),
        sa.Column("to_unit_level", sa.String(30), nullable=False, server_default=""),
        sa.Column("handed_over_at", When, nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("accepted_at", When, nullable=True),
        sa.Column("deadline_at", When, nullable=True),
        sa.Column("finished_at", When, nullable=True),
        sa.Column("ended", sa.String(20), nullable=True),
        sa.Column("outcome", sa.String(40), nullable=True),
        sa.Column("result", sa.String(10), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("paused_minutes", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("failure_reported_at", When, nullable=True),
        sa.Column("failure_reported_by", sa.String(40), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.UniqueConstraint("dossier_code", "n", name="uq_handover_dossier_n"),
        sa.UniqueConstraint("step_id", "attempt", name="uq_handover_step_attempt"),
    )


def downgrade() -> None:
    op.drop_table("handover")
    with op.batch_alter_table("step") as batch:
        batch.drop_index("ix_step_inbox")
        for column in (
            "updated_at",
            "changed_at",
            "note",
            "outcome",
            "finished_at",
            "overdue_when_paused",
            "pause_kind",
            "paused_from",
            "paused_at",
            "deadline_at",
            "accepted_at",
            "attempt",
            "external",
            "counts",
            "budget_minutes",
            "unit_level",
            "name",
            "key",
        ):
            batch.drop_column(column)
    op.drop_table("route")
