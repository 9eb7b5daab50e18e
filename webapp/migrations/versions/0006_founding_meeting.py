"""Founding meeting: polls, meetings, RSVPs

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 02:03:39.159041
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import webapp.models.base

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "polls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("deadline_at", webapp.models.base.UTCDateTime(), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", webapp.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_polls_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_polls")),
    )
    with op.batch_alter_table("polls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_polls_community_id"), ["community_id"], unique=False)

    op.create_table(
        "meetings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("starts_at", webapp.models.base.UTCDateTime(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("place", sa.String(length=300), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("agenda", sa.JSON(), nullable=False),
        sa.Column("uid", sa.String(length=255), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("reminder_minutes", sa.JSON(), nullable=False),
        sa.Column("created_at", webapp.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", webapp.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_meetings_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["poll_id"], ["polls.id"], name=op.f("fk_meetings_poll_id_polls"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meetings")),
        sa.UniqueConstraint("uid", name=op.f("uq_meetings_uid")),
    )
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_meetings_community_id"), ["community_id"], unique=False
        )

    op.create_table(
        "poll_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("updated_at", webapp.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_poll_comments_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["poll_id"],
            ["polls.id"],
            name=op.f("fk_poll_comments_poll_id_polls"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_poll_comments")),
        sa.UniqueConstraint(
            "poll_id", "person_id", name=op.f("uq_poll_comments_poll_id_person_id")
        ),
    )
    op.create_table(
        "poll_roles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("weight", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_poll_roles_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["poll_id"], ["polls.id"], name=op.f("fk_poll_roles_poll_id_polls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_poll_roles")),
        sa.UniqueConstraint("poll_id", "person_id", name=op.f("uq_poll_roles_poll_id_person_id")),
    )
    op.create_table(
        "poll_slots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", webapp.models.base.UTCDateTime(), nullable=True),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("place", sa.String(length=300), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["poll_id"], ["polls.id"], name=op.f("fk_poll_slots_poll_id_polls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_poll_slots")),
    )
    with op.batch_alter_table("poll_slots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_poll_slots_poll_id"), ["poll_id"], unique=False)

    op.create_table(
        "poll_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("answer", sa.String(length=12), nullable=False),
        sa.Column("updated_at", webapp.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_poll_answers_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["poll_id"],
            ["polls.id"],
            name=op.f("fk_poll_answers_poll_id_polls"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"],
            ["poll_slots.id"],
            name=op.f("fk_poll_answers_slot_id_poll_slots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_poll_answers")),
        sa.UniqueConstraint("slot_id", "person_id", name=op.f("uq_poll_answers_slot_id_person_id")),
    )
    with op.batch_alter_table("poll_answers", schema=None) as batch_op:
        batch_op.create_index("ix_poll_answers_poll_person", ["poll_id", "person_id"], unique=False)

    op.create_table(
        "rsvps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("checked_in_at", webapp.models.base.UTCDateTime(), nullable=True),
        sa.Column("updated_at", webapp.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_rsvps_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_rsvps_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rsvps")),
        sa.UniqueConstraint("meeting_id", "person_id", name=op.f("uq_rsvps_meeting_id_person_id")),
    )
    with op.batch_alter_table("rsvps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rsvps_person_id"), ["person_id"], unique=False)

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("poll_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("meeting_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_campaigns_poll_id_polls"),
            "polls",
            ["poll_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_campaigns_meeting_id_meetings"),
            "meetings",
            ["meeting_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_campaigns_meeting_id_meetings"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_campaigns_poll_id_polls"), type_="foreignkey")
        batch_op.drop_column("meeting_id")
        batch_op.drop_column("poll_id")
    with op.batch_alter_table("rsvps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rsvps_person_id"))

    op.drop_table("rsvps")
    with op.batch_alter_table("poll_answers", schema=None) as batch_op:
        batch_op.drop_index("ix_poll_answers_poll_person")

    op.drop_table("poll_answers")
    with op.batch_alter_table("poll_slots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_poll_slots_poll_id"))

    op.drop_table("poll_slots")
    op.drop_table("poll_roles")
    op.drop_table("poll_comments")
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meetings_community_id"))

    op.drop_table("meetings")
    with op.batch_alter_table("polls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_polls_community_id"))

    op.drop_table("polls")
