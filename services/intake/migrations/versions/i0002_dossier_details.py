"""Intake: everything the receipt, the tracking book and the lifecycle need; the dossier timeline.

Revision ID: i0002
Revises: i0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i0002"
down_revision: str | None = "i0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("dossier") as batch:
        batch.add_column(sa.Column("procedure_name", sa.String(500), nullable=False, server_default=""))
        batch.add_column(sa.Column("receiving_unit_name", sa.String(300), nullable=False, server_default=""))
        batch.add_column(sa.Column("applicant_id_number", sa.String(12), nullable=True))
        batch.add_column(sa.Column("applicant_address", sa.String(500), nullable=True))
        batch.add_column(sa.Column("proxy", sa.Text(), nullable=True))
        batch.add_column(sa.Column("documents", sa.Text(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("result_delivery", sa.String(20), nullable=False, server_default="desk"))
        batch.add_column(sa.Column("external_id", sa.String(100), nullable=True))
        batch.add_column(sa.Column("submitted_by", sa.String(32), nullable=False, server_default=""))
        batch.add_column(sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("clock_starts_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("original_appointment_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("statutory_amount", sa.Float(), nullable=True))
        batch.add_column(sa.Column("statutory_unit", sa.String(20), nullable=True))
        batch.add_column(sa.Column("interconnected", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("paused_from", sa.String(30), nullable=True))
        batch.add_column(sa.Column("tracking_number", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("status_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_dossier_status", ["status"])
        batch.create_index("ix_dossier_received_at", ["received_at"])
        # external_id first: the import looks a dossier up by external_id alone.
        batch.create_index("ix_dossier_external", ["external_id", "submitted_by"], unique=True)
    op.create_table(
        "dossier_timeline",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("dossier_code", sa.String(64), nullable=False, index=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("status", sa.String(30), nullable=True),
        sa.Column("actor", sa.String(200), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("dossier_timeline")
    with op.batch_alter_table("dossier") as batch:
        for index in ("ix_dossier_external", "ix_dossier_received_at", "ix_dossier_status"):
            batch.drop_index(index)
        for column in (
            "updated_at",
            "status_reason",
            "tracking_number",
            "paused_from",
            "interconnected",
            "statutory_unit",
            "statutory_amount",
            "original_appointment_at",
            "clock_starts_at",
            "accepted_at",
            "submitted_by",
            "external_id",
            "result_delivery",
            "documents",
            "proxy",
            "applicant_address",
            "applicant_id_number",
            "receiving_unit_name",
            "procedure_name",
        ):
            batch.drop_column(column)
