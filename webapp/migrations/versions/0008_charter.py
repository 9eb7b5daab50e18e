"""Charter: statements, votes, amendments, consent, versions

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 04:00:32.379410
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import webapp.models.base

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "amendments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("section", sa.String(length=40), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("before", sa.Text(), nullable=False),
        sa.Column("after", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("created_at", webapp.models.base.UTCDateTime(), nullable=False),
        sa.Column("decided_at", webapp.models.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_amendments_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_amendments_person_id_persons"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_amendments")),
    )
    with op.batch_alter_table("amendments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_amendments_community_state", ["community_id", "state"], unique=False
        )

    op.create_table(
        "charter_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("answer", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("updated_at", webapp.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_charter_consents_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_charter_consents_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charter_consents")),
        sa.UniqueConstraint(
            "community_id",
            "round",
            "person_id",
            name=op.f("uq_charter_consents_community_id_round_person_id"),
        ),
    )
    op.create_table(
        "charter_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("sections", sa.JSON(), nullable=False),
        sa.Column("review_on", sa.Date(), nullable=True),
        sa.Column("adopted_at", webapp.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_charter_versions_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charter_versions")),
        sa.UniqueConstraint(
            "community_id", "number", name=op.f("uq_charter_versions_community_id_number")
        ),
    )
    op.create_table(
        "charters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=12), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("min_votes", sa.Integer(), nullable=False),
        sa.Column("texts", sa.JSON(), nullable=False),
        sa.Column("consent_round", sa.Integer(), nullable=False),
        sa.Column("review_on", sa.Date(), nullable=True),
        sa.Column("created_at", webapp.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", webapp.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_charters_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charters")),
        sa.UniqueConstraint("community_id", name=op.f("uq_charters_community_id")),
    )
    op.create_table(
        "statements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("section", sa.String(length=40), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(length=12), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", webapp.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", webapp.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_statements_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merged_into_id"],
            ["statements.id"],
            name=op.f("fk_statements_merged_into_id_statements"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statements")),
    )
    with op.batch_alter_table("statements", schema=None) as batch_op:
        batch_op.create_index(
            "ix_statements_community_section", ["community_id", "section"], unique=False
        )

    op.create_table(
        "amendment_votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("amendment_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("accept", sa.Boolean(), nullable=False),
        sa.Column("updated_at", webapp.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["amendment_id"],
            ["amendments.id"],
            name=op.f("fk_amendment_votes_amendment_id_amendments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_amendment_votes_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_amendment_votes")),
        sa.UniqueConstraint(
            "amendment_id", "person_id", name=op.f("uq_amendment_votes_amendment_id_person_id")
        ),
    )
    op.create_table(
        "statement_supports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("wording", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_statement_supports_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["statements.id"],
            name=op.f("fk_statement_supports_statement_id_statements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statement_supports")),
        sa.UniqueConstraint(
            "statement_id", "person_id", name=op.f("uq_statement_supports_statement_id_person_id")
        ),
    )
    with op.batch_alter_table("statement_supports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_statement_supports_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "statement_votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("vote", sa.String(length=10), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("updated_at", webapp.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_statement_votes_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["statements.id"],
            name=op.f("fk_statement_votes_statement_id_statements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statement_votes")),
        sa.UniqueConstraint(
            "statement_id", "person_id", name=op.f("uq_statement_votes_statement_id_person_id")
        ),
    )
    with op.batch_alter_table("statement_votes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_statement_votes_person_id"), ["person_id"], unique=False
        )

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("charter_stage", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("charter_statements", sa.JSON(), nullable=True))

    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("commitments_confirmed_at", webapp.models.base.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_column("commitments_confirmed_at")

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("charter_statements")
        batch_op.drop_column("charter_stage")

    with op.batch_alter_table("statement_votes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_statement_votes_person_id"))

    op.drop_table("statement_votes")
    with op.batch_alter_table("statement_supports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_statement_supports_person_id"))

    op.drop_table("statement_supports")
    op.drop_table("amendment_votes")
    with op.batch_alter_table("statements", schema=None) as batch_op:
        batch_op.drop_index("ix_statements_community_section")

    op.drop_table("statements")
    op.drop_table("charters")
    op.drop_table("charter_versions")
    op.drop_table("charter_consents")
    with op.batch_alter_table("amendments", schema=None) as batch_op:
        batch_op.drop_index("ix_amendments_community_state")

    op.drop_table("amendments")
