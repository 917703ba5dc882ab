"""A ticket filed for a citizen outside the conversation becomes their open thread.

The walk-in desk and Open311 file tickets for a phone number; the conversation engine
appends a citizen's messages only to the ticket its state names (``open_ticket``). Without
this, the citizen's first reply to such a ticket started a new complaint, and a resolved
ticket could not be reopened by answering it.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from conversations.state import FILED, IDLE, ConversationState
from gateway.store.models import Ticket, utcnow


def open_thread(session: Session, ticket: Ticket) -> None:
    """Make ``ticket`` the one its contact's messages go to, unless a complaint is being drafted.

    A draft in progress is the citizen's own new complaint and is left alone (their
    follow-ups then go to the ticket that draft becomes). The version moves on, so a
    reminder scheduled for the old state is recognised as stale.
    """
    if ticket.contact_id is None:
        return
    from gateway.work.handlers.turn import lock_conversation

    conv = lock_conversation(session, ticket.contact_id)
    state = ConversationState.from_dict(conv.state) if conv.state else ConversationState.new(ticket.language)
    if state.stage not in (IDLE, FILED):
        return
    state.stage = FILED
    state.open_ticket = ticket.tracking
    state.last_activity = utcnow().isoformat()
    state.version += 1
    conv.state = state.to_dict()
    conv.intake_state = state.stage
    conv.version = state.version
    conv.last_activity_at = utcnow()
