"""Test-only table recording the effects of the test handlers, in the order they ran.

Revision ID: t0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "t0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("bustest",)
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "effect",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("dossier_code", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("effect")
