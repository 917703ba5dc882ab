"""The citizens' voice on a ticket (issue 20): what follows a status update, and the engine's
effects for ratings and joining.

Kept apart from the ticket service so its hooks there stay one line each:
`gateway.tickets.citizen_updates` calls `after_update` once the citizen was told of a status, and
`gateway.work.handlers.turn` hands the `RateTicket`, `CommentRating`, `JoinTicket` and
`FollowTicket` effects to `apply`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from conversations import lifecycle as lc
from conversations.effects import CommentRating, FollowTicket, JoinTicket, RateTicket
from gateway.store.models import Contact, Message, Ticket

if TYPE_CHECKING:
    from gateway.runtime import Runtime


def after_update(session: Session, runtime: Runtime, ticket: Ticket, kind: str) -> None:
    """Told the reporter of ``kind``: a resolution is followed by the satisfaction question; a
    reopen settles a reopen offer (the coordinator took it)."""
    from gateway.tickets import satisfaction

    if kind == lc.RESOLVED:
        satisfaction.ask(session, runtime, ticket)
    elif kind == "reopened":
        satisfaction.settle_offer(session, ticket)


def tell_supporters(
    session: Session, runtime: Runtime, ticket: Ticket, event: Any, kind: str, note: str | None
) -> None:
    """Every status update the reporter is sent reaches the ticket's supporters too."""
    from gateway.tickets import supporters

    supporters.tell_supporters(session, runtime, ticket, event, kind, note)


def apply(
    runtime: Runtime,
    session: Session,
    contact: Contact,
    effect: Any,
    channel: str,
    address: str,
    language: str,
    source: Message | None,
    key: str,
) -> None:
    """Carry out one of this module's engine effects for ``contact`` (see the module docstring)."""
    from gateway.tickets import satisfaction

    if isinstance(effect, RateTicket):
        satisfaction.record_rating(session, runtime, contact.id, effect.tracking, effect.score, source)
    elif isinstance(effect, CommentRating):
        satisfaction.record_comment(session, contact.id, effect.tracking, effect.text, source)
    elif isinstance(effect, JoinTicket):
        from gateway.tickets import supporters

        supporters.join(session, runtime, contact, effect.tracking, channel, address, language, key)
    elif isinstance(effect, FollowTicket):
        from gateway.tickets import followers

        followers.follow(session, runtime, contact, effect.code, channel, address, language, key)
