"""messages: an index by contact, direction and processed mark

The per-contact lookups on the hot paths (a contact's unprocessed messages, the per-sender
rate count in the webhook, held-back WhatsApp notices) used the (direction, processed_at)
index and so read every unprocessed or outbound message of every contact: their cost grew
with the backlog and the table, and a ten-minute run at 50 messages/s fell further behind
every minute.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 16:10:00
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_messages_contact_direction", ["contact_id", "direction", "processed_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_contact_direction")
