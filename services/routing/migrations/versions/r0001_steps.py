"""Routing: steps.

Revision ID: r0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "r0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("routing",)
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "step",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("dossier_code", sa.String(64), nullable=False, index=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(40), nullable=False, index=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.UniqueConstraint("dossier_code", "seq", name="uq_step_dossier_seq"),
    )


def downgrade() -> None:
    op.drop_table("step")
