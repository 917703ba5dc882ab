"""ticket_supporters.role: supporters (counted as reporters) and followers (only told)

Revision ID: 0007_tglink_followers
Revises: 0006_support_voice
Create Date: 2026-12-02 12:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_tglink_followers"
down_revision = "0006_support_voice"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every existing row came by a merge or IKUT/JOIN: a supporter. The server default fills
    # them, then goes, so that the column matches the model (which sets the role itself).
    with op.batch_alter_table("ticket_supporters") as batch:
        batch.add_column(sa.Column("role", sa.String(length=16), nullable=False, server_default="supporter"))
    with op.batch_alter_table("ticket_supporters") as batch:
        batch.alter_column("role", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("ticket_supporters") as batch:
        batch.drop_column("role")
