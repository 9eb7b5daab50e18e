"""Referral links and what taking part asks

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 01:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("communities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("commitment", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.add_column(sa.Column("referral_code", sa.String(length=24), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_memberships_referral_code"), ["referral_code"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_memberships_referral_code"))
        batch_op.drop_column("referral_code")
    with op.batch_alter_table("communities", schema=None) as batch_op:
        batch_op.drop_column("commitment")
