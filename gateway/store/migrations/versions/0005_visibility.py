"""tickets.verified_at: when a person confirmed the ticket's disposition

A ticket's text and agency become public only once it is verified: disposed by
a person (the coordinator, or an unscoped API token), or, when the system
disposed it automatically, once the agency took its first step. Existing
tickets are backfilled from their history: the first step by an operator or an
API token (dispose, start, resolve or a reply) since the ticket was dispatched.
Tickets never dispatched stay unverified (archived ones included).

Revision ID: 0005_visibility
Revises: 0004_concat
Create Date: 2026-12-02 06:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.models

revision = "0005_visibility"
down_revision = "0004_concat"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("verified_at", gateway.store.models.UTCDateTime(), nullable=True))
        batch_op.create_index("ix_tickets_verified_at", ["verified_at"], unique=False)
    op.execute(
        """
        UPDATE tickets SET verified_at = (
            SELECT MIN(e.created_at) FROM ticket_events e
            WHERE e.ticket_id = tickets.id
              AND e.actor_type IN ('operator', 'api')
              AND e.action IN ('dispose', 'start', 'resolve', 'reply')
              AND e.created_at >= tickets.dispatched_at
        )
        WHERE dispatched_at IS NOT NULL
          AND status IN ('dispatched', 'in_progress', 'resolved', 'archived')
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_verified_at")
        batch_op.drop_column("verified_at")
