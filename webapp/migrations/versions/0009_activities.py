"""Recurring activities: series, occurrences (meetings), feedback and topic proposals.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 06:22:08.884205
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import webapp.models.base

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "activity_series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("rrule", sa.String(length=500), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("starts_at", webapp.models.base.UTCDateTime(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("place", sa.String(length=300), nullable=False),
        sa.Column("format", sa.String(length=12), nullable=False),
        sa.Column("activity_types", sa.JSON(), nullable=False),
        sa.Column("exdates", sa.JSON(), nullable=False),
        sa.Column("uid", sa.String(length=255), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("invite_days", sa.Integer(), nullable=False),
        sa.Column("reminder_minutes", sa.JSON(), nullable=False),
        sa.Column("quiet_after", sa.Integer(), nullable=False),
        sa.Column("created_at", webapp.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", webapp.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_activity_series_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_series")),
        sa.UniqueConstraint("uid", name=op.f("uq_activity_series_uid")),
    )
    with op.batch_alter_table("activity_series", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_activity_series_community_id"), ["community_id"], unique=False
        )

    op.create_table(
        "activity_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("usefulness", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", webapp.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", webapp.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_activity_feedback_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_activity_feedback_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_feedback")),
        sa.UniqueConstraint(
            "meeting_id", "person_id", name=op.f("uq_activity_feedback_meeting_id_person_id")
        ),
    )
    op.create_table(
        "topic_proposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.String(length=300), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=True),
        sa.Column("created_at", webapp.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_topic_proposals_meeting_id_meetings"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_topic_proposals_person_id_persons"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["activity_series.id"],
            name=op.f("fk_topic_proposals_series_id_activity_series"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_topic_proposals")),
    )
    with op.batch_alter_table("topic_proposals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_topic_proposals_series_id"), ["series_id"], unique=False
        )

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("activity_step", sa.String(length=12), nullable=True))

    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("series_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("recurrence_at", webapp.models.base.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("activity_type", sa.String(length=30), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("topic", sa.String(length=300), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("facilitator_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("summary", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column("summary_at", webapp.models.base.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("followed_up_at", webapp.models.base.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("mail_refused_at", webapp.models.base.UTCDateTime(), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_meetings_series_id"), ["series_id"], unique=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_meetings_series_id_recurrence_at"), ["series_id", "recurrence_at"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_meetings_series_id_activity_series"),
            "activity_series",
            ["series_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_meetings_facilitator_id_persons"),
            "persons",
            ["facilitator_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_meetings_facilitator_id_persons"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_meetings_series_id_activity_series"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("uq_meetings_series_id_recurrence_at"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_meetings_series_id"))
        batch_op.drop_column("mail_refused_at")
        batch_op.drop_column("followed_up_at")
        batch_op.drop_column("summary_at")
        batch_op.drop_column("summary")
        batch_op.drop_column("facilitator_id")
        batch_op.drop_column("topic")
        batch_op.drop_column("activity_type")
        batch_op.drop_column("recurrence_at")
        batch_op.drop_column("series_id")

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("activity_step")

    with op.batch_alter_table("topic_proposals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_topic_proposals_series_id"))

    op.drop_table("topic_proposals")
    op.drop_table("activity_feedback")
    with op.batch_alter_table("activity_series", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activity_series_community_id"))

    op.drop_table("activity_series")
