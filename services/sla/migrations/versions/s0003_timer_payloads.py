"""SLA: each timer holds the event it publishes, so a sweep fires a batch without replaying histories.

Revision ID: s0003
Revises: s0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "s0003"
down_revision: str | None = "s0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sla_timer") as batch:
        batch.add_column(sa.Column("payload", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sla_timer") as batch:
        batch.drop_column("payload")
