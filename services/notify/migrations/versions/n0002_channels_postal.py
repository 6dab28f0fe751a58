"""Notify: audience, Zalo and SMS parts on notifications; dossier contacts, opt-outs, postal orders and
provider receipts.

Revision ID: n0002
Revises: n0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "n0002"
down_revision: str | None = "n0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("notification") as t:
        t.add_column(sa.Column("event_type", sa.String(80), nullable=False, server_default=""))
        t.add_column(sa.Column("audience", sa.String(20), nullable=False, server_default="citizen"))
        t.add_column(sa.Column("urgent", sa.Boolean(), nullable=False, server_default=sa.false()))
        t.add_column(sa.Column("html", sa.Text(), nullable=True))
        t.add_column(sa.Column("data", sa.Text(), nullable=True))
        t.add_column(sa.Column("zalo_template_id", sa.String(64), nullable=True))
        t.add_column(sa.Column("zalo_params", sa.Text(), nullable=True))
        t.add_column(sa.Column("parts", sa.Integer(), nullable=True))
        t.add_column(sa.Column("encoding", sa.String(10), nullable=True))
        t.add_column(sa.Column("provider", sa.String(40), nullable=True))
        t.add_column(sa.Column("fallback_of", sa.String(36), nullable=True))
        t.add_column(sa.Column("resend_of", sa.String(36), nullable=True))
        t.add_column(sa.Column("trace_headers", sa.String(300), nullable=True))
    # A fallback looks for the notifications its event already made.
    op.create_index("ix_notification_event_id", "notification", ["event_id"])
    op.create_table(
        "dossier_contact",
        sa.Column("dossier_code", sa.String(64), primary_key=True),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("phone", sa.String(20), nullable=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("address", sa.String(500), nullable=True),
        sa.Column("channels", sa.String(60), nullable=False),
        sa.Column("submission_channel", sa.String(20), nullable=False),
        sa.Column("result_delivery", sa.String(20), nullable=False),
        sa.Column("procedure_code", sa.String(64), nullable=False),
        sa.Column("receiving_unit_code", sa.String(64), nullable=False),
        sa.Column("appointment_at", _TS, nullable=True),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_table(
        "opt_out",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("address", sa.String(254), nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.UniqueConstraint("channel", "address", name="uq_opt_out_channel_address"),
    )
    op.create_table(
        "postal_order",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("dossier_code", sa.String(64), nullable=False, index=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("tracking_number", sa.String(40), nullable=True, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("phone", sa.String(20), nullable=True),
        sa.Column("address", sa.String(500), nullable=False),
        sa.Column("cause_event_id", sa.String(36), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("next_attempt_at", _TS, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_postal_order_status_due", "postal_order", ["status", "next_attempt_at"])
    op.create_table(
        "postal_order_event",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("order_id", sa.String(36), nullable=False, index=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
    )
    op.create_table(
        "provider_receipt",
        sa.Column("provider", sa.String(40), primary_key=True),
        sa.Column("receipt_id", sa.String(100), primary_key=True),
        sa.Column("reference", sa.String(100), nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("outcome", sa.String(30), nullable=False),
        sa.Column("received_at", _TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("provider_receipt")
    op.drop_table("postal_order_event")
    op.drop_table("postal_order")
    op.drop_table("opt_out")
    op.drop_table("dossier_contact")
    op.drop_index("ix_notification_event_id", "notification")
    with op.batch_alter_table("notification") as t:
        for name in (
            "trace_headers",
            "resend_of",
            "fallback_of",
            "provider",
            "encoding",
            "parts",
            "zalo_params",
            "zalo_template_id",
            "data",
            "html",
            "urgent",
            "audience",
            "event_type",
        ):
            t.drop_column(name)
