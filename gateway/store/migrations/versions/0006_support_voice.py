"""ticket_ratings and ticket_supporters: satisfaction after resolution, and "ikut melapor"

Revision ID: 0006_support_voice
Revises: 0005_visibility
Create Date: 2026-12-02 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.models

revision = "0006_support_voice"
down_revision = "0005_visibility"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ticket_ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("asked_at", gateway.store.models.UTCDateTime(), nullable=False),
        sa.Column("expires_at", gateway.store.models.UTCDateTime(), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("rated_at", gateway.store.models.UTCDateTime(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("reopen_offered", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_ticket_ratings_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_ticket_ratings_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_ratings_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_ratings")),
        sa.UniqueConstraint("ticket_id", name=op.f("uq_ticket_ratings_ticket_id")),
    )
    op.create_index(op.f("ix_ticket_ratings_agency_id"), "ticket_ratings", ["agency_id"], unique=False)
    op.create_index(op.f("ix_ticket_ratings_contact_id"), "ticket_ratings", ["contact_id"], unique=False)
    op.create_index(op.f("ix_ticket_ratings_rated_at"), "ticket_ratings", ["rated_at"], unique=False)
    op.create_table(
        "ticket_supporters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("address", sa.String(length=255), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("privacy", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("merged_from", sa.Integer(), nullable=True),
        sa.Column("created_at", gateway.store.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_ticket_supporters_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["merged_from"],
            ["tickets.id"],
            name=op.f("fk_ticket_supporters_merged_from_tickets"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_supporters_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_supporters")),
        sa.UniqueConstraint(
            "ticket_id", "contact_id", name=op.f("uq_ticket_supporters_ticket_id_contact_id")
        ),
    )
    op.create_index(
        op.f("ix_ticket_supporters_contact_id"), "ticket_supporters", ["contact_id"], unique=False
    )
    op.create_index(op.f("ix_ticket_supporters_ticket_id"), "ticket_supporters", ["ticket_id"], unique=False)


def downgrade() -> None:
    op.drop_table("ticket_supporters")
    op.drop_table("ticket_ratings")
