"""Routing: the outbound connector to external systems (deliveries, their dead letters) and the
interconnection columns of the process control slip.

Revision ID: r0003
Revises: r0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "r0003"
down_revision: str | None = "r0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

When = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("step") as batch:
        batch.add_column(sa.Column("external_system", sa.String(40), nullable=True))
    with op.batch_alter_table("handover") as batch:
        batch.add_column(sa.Column("external_system", sa.String(40), nullable=True))
        batch.add_column(sa.Column("acknowledged_at", When, nullable=True))
        batch.add_column(sa.Column("external_reference", sa.String(200), nullable=True))
        batch.add_column(sa.Column("interconnection_minutes", sa.Integer(), nullable=True))
    op.create_table(
        "handover_delivery",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("handover_id", sa.String(36), nullable=False),
        sa.Column("step_id", sa.String(36), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("dossier_code", sa.String(64), nullable=False, index=True),
        sa.Column("external_system", sa.String(40), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("sends", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", When, nullable=True),
        sa.Column("ack_due_at", When, nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", When, nullable=True),
        sa.Column("acknowledged_at", When, nullable=True),
        sa.Column("external_reference", sa.String(200), nullable=True),
        sa.Column("unacknowledged_at", When, nullable=True),
        sa.Column("completed_at", When, nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.UniqueConstraint("step_id", "attempt", name="uq_delivery_step_attempt"),
    )
    op.create_index("ix_delivery_next_attempt", "handover_delivery", ["next_attempt_at"])
    op.create_index("ix_delivery_ack_due", "handover_delivery", ["ack_due_at"])
    op.create_table(
        "connector_dead_letter",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.String(36), nullable=False, index=True),
        sa.Column("dossier_code", sa.String(64), nullable=False),
        sa.Column("external_system", sa.String(40), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("sends", sa.Integer(), nullable=False),
        sa.Column("failed_at", When, nullable=False),
        sa.Column("replayed_at", When, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("connector_dead_letter")
    op.drop_index("ix_delivery_ack_due", "handover_delivery")
    op.drop_index("ix_delivery_next_attempt", "handover_delivery")
    op.drop_table("handover_delivery")
    with op.batch_alter_table("handover") as batch:
        for column in ("interconnection_minutes", "external_reference", "acknowledged_at", "external_system"):
            batch.drop_column(column)
    with op.batch_alter_table("step") as batch:
        batch.drop_column("external_system")
