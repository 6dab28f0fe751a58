"""Notify: events about a dossier whose contact is not known yet, parked until intake's event brings it.

Revision ID: n0003
Revises: n0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "n0003"
down_revision: str | None = "n0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "parked_event",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("dossier_code", sa.String(64), nullable=False, index=True),
        sa.Column("event_type", sa.String(80), nullable=False),
        sa.Column("envelope", sa.Text(), nullable=False),
        sa.Column("parked_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("parked_event")
