"""Intake: the commune a dossier concerns (where the land lies, where the applicant resides).

Revision ID: i0003
Revises: i0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i0003"
down_revision: str | None = "i0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dossier") as batch:
        batch.add_column(sa.Column("commune_code", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dossier") as batch:
        batch.drop_column("commune_code")
