"""Routing: a unit's open steps in inbox order (oldest handover first), indexed apart from its closed ones.

ix_step_inbox (unit_code, status, assigned_at, id) finds a unit's open steps, but with three open
statuses their order comes from sorting all of them: on a land office holding 16,000 of 100,000 open
steps (beside 1,000,000 closed), PostgreSQL spent 31 ms in that sort for every page (bench/inbox_bench.py).
This partial index holds only the open steps, already in the page's order, so a page reads its 51 rows
and stops (0.4 ms). PostgreSQL proves the inbox query's `status IN (...)` implies the predicate; SQLite
matches a partial index only when the query states the same list literally and in this order, and
sorts as before until it does.

Revision ID: r0004
Revises: r0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "r0004"
down_revision: str | None = "r0003"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

OPEN = "status IN ('assigned', 'accepted', 'paused_for_citizen')"


def upgrade() -> None:
    op.create_index(
        "ix_step_open_inbox",
        "step",
        ["unit_code", "assigned_at", "id"],
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index("ix_step_open_inbox", "step")
