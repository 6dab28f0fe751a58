"""Relay lease: on SQLite exactly one outbox relay per database publishes at a time.

Revision ID: p0002
Revises: p0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "p0002"
down_revision: str | None = "p0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    lease = op.create_table(
        "relay_lease",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("holder", sa.String(100), nullable=True),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )
    op.bulk_insert(lease, [{"name": "outbox", "holder": None, "expires_at": 0.0}])


def downgrade() -> None:
    op.drop_table("relay_lease")
