"""inbox_sessions: server-side records of inbox logins, deleted on logout

Flask's cookie session lives in the browser only, so logging out could not stop a
copy of the cookie made before. A row per login, named by a digest of a random id
in the cookie, lets logout (and expiry) end that one session on the server.

Revision ID: 0003_sessions
Revises: 0002
Create Date: 2026-12-02 06:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.models

revision = "0003_sessions"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("created_at", gateway.store.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_inbox_sessions_operator_id_operators"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_sessions")),
    )
    with op.batch_alter_table("inbox_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbox_sessions_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_inbox_sessions_operator_id"), ["operator_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("inbox_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbox_sessions_operator_id"))
        batch_op.drop_index(batch_op.f("ix_inbox_sessions_created_at"))
    op.drop_table("inbox_sessions")
