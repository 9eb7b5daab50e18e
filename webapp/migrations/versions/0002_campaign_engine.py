"""Campaign engine: reminders, unknown policy, schedule, pause reason, cancel

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 20:03:16.447807
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import webapp.models.base

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("audience_filter", sa.JSON(), nullable=False, server_default="{}")
        )
        batch_op.add_column(
            sa.Column("scheduled_at", webapp.models.base.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("cancelled_at", webapp.models.base.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("paused_reason", sa.String(length=20), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("consecutive_errors", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column(
                "unknown_policy", sa.String(length=10), nullable=False, server_default="resend"
            )
        )
        batch_op.add_column(
            sa.Column("reminder_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("reminder_gap_days", sa.Integer(), nullable=False, server_default="3")
        )
        batch_op.add_column(
            sa.Column("deadline_at", webapp.models.base.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("quiet_start", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("quiet_end", sa.Integer(), nullable=True))

    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("unknown_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.create_index("ix_deliveries_state_due", ["state", "due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_state_due")
        batch_op.drop_column("unknown_count")

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("quiet_end")
        batch_op.drop_column("quiet_start")
        batch_op.drop_column("deadline_at")
        batch_op.drop_column("reminder_gap_days")
        batch_op.drop_column("reminder_count")
        batch_op.drop_column("unknown_policy")
        batch_op.drop_column("consecutive_errors")
        batch_op.drop_column("paused_reason")
        batch_op.drop_column("cancelled_at")
        batch_op.drop_column("scheduled_at")
        batch_op.drop_column("audience_filter")
