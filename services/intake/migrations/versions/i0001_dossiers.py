"""Intake: dossiers and per-unit daily code sequences.

Revision ID: i0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("intake",)
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dossier",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("procedure_code", sa.String(64), nullable=False, index=True),
        sa.Column("receiving_unit_code", sa.String(40), nullable=False, index=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("applicant_name", sa.String(200), nullable=False),
        sa.Column("applicant_phone", sa.String(20), nullable=True),
        sa.Column("applicant_email", sa.String(254), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("appointment_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_table(
        "dossier_sequence",
        sa.Column("unit_code", sa.String(40), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("last_value", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("dossier_sequence")
    op.drop_table("dossier")
