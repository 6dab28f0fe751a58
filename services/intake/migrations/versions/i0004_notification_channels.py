"""Intake: the channels an applicant agrees to be told on, in their order.

Revision ID: i0004
Revises: i0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i0004"
down_revision: str | None = "i0003"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dossier") as batch:
        batch.add_column(sa.Column("notification_channels", sa.String(60), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dossier") as batch:
        batch.drop_column("notification_channels")
