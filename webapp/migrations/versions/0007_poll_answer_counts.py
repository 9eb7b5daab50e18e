"""Poll answers counted per slot from an index

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 03:05:00
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("poll_answers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_poll_answers_poll_slot_answer", ["poll_id", "slot_id", "answer"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("poll_answers", schema=None) as batch_op:
        batch_op.drop_index("ix_poll_answers_poll_slot_answer")
