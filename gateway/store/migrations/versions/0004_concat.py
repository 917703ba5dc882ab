"""messages: a provider id is unique per channel and direction

An aggregator numbers the messages citizens send and the messages we send on its own
counters, so one id can name a message in and a message out. Unique on (channel, provider
id) alone, a citizen's message whose id matched one of our sent messages was taken for a
copy already stored, acknowledged and dropped.

Revision ID: 0004_concat
Revises: 0003_sessions
Create Date: 2026-12-02 06:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0004_concat"
down_revision = "0003_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_constraint("uq_messages_channel_provider_message_id", type_="unique")
        batch_op.create_unique_constraint(
            "uq_messages_channel_direction_provider_message_id",
            ["channel", "direction", "provider_message_id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_constraint("uq_messages_channel_direction_provider_message_id", type_="unique")
        batch_op.create_unique_constraint(
            "uq_messages_channel_provider_message_id", ["channel", "provider_message_id"]
        )
