"""Tickets that came with an emergency: flagged in their data, first in the inbox while open.

The citizen already got the emergency numbers from the conversation
(conversations/emergency.py); what is left for people is to look at the ticket
soon. The flag is the kind of emergency (fire, self_harm, ...) under
``data["emergency"]``, so no column or migration is needed; the inbox orders open
flagged tickets first and shows a badge. This module is the one place that knows
where the flag lives: the engine effect writes it here, the list orders by
`urgent_first`, the templates ask `kind_of`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case

from conversations import lifecycle as lc
from gateway.store.models import Ticket

KEY = "emergency"


def flag(ticket: Ticket, kind: str) -> None:
    """Mark ``ticket`` as reporting an emergency of ``kind``; it is shown unread so it is seen."""
    ticket.data = {**(ticket.data or {}), KEY: kind}  # a new dict: JSON columns track assignment
    ticket.has_unread = True


def kind_of(ticket: Ticket) -> str | None:
    """The kind of emergency ``ticket`` reported, or None."""
    value = (ticket.data or {}).get(KEY)
    return str(value) if value else None


def urgent_first() -> Any:
    """An ORDER BY key: 0 for an open ticket that reported an emergency, 1 for every other.

    Closed (resolved, archived) emergencies fall back into the ordinary order: the
    flag is about being looked at, and someone has. Reads the JSON the same way on
    SQLite (``json_extract``) and PostgreSQL (``->>``).
    """
    flagged = Ticket.data[KEY].as_string().is_not(None)
    return case((and_(flagged, Ticket.status.in_(tuple(lc.OPEN_STATUSES))), 0), else_=1)
