"""SLA: dossier and step clocks.

Revision ID: s0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "s0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("sla",)
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dossier_clock",
        sa.Column("dossier_code", sa.String(64), primary_key=True),
        sa.Column("procedure_code", sa.String(64), nullable=False),
        sa.Column("receiving_unit_code", sa.String(40), nullable=False, index=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("appointment_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_table(
        "step_clock",
        sa.Column("step_id", sa.String(36), primary_key=True),
        sa.Column("dossier_code", sa.String(64), nullable=False, index=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(40), nullable=False, index=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("step_clock")
    op.drop_table("dossier_clock")
