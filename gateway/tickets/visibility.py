"""Who may see what of a ticket: the one rule, for every surface.

The inbox, the API, exports, Open311, the public pages (`/`, `/statistik`, `/lacak`),
media links and forwards to an agency's own system all ask here, never decide inline:
"confidential is never public" and "an agency sees what was disposed to it" are
written once. Each predicate on a loaded ticket has its SQL twin right beside it
(``*_clause``), so lists filter in the database by the same rule that single reads
check in Python; tests/security/test_visibility_matrix.py holds both to one table of
roles x states x privacy levels x surfaces.

Changing who sees what (verifying, disposing, setting privacy) is the ticket
service's (gateway/tickets/service.py); this module only reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import ColumnElement, Select, and_, case, false, null, select, true

from conversations import lifecycle as lc
from gateway.store.models import Ticket

if TYPE_CHECKING:
    # The service builds actors and calls these rules; only the type is needed here.
    from gateway.tickets.service import Actor

#: The privacy level that is never public.
CONFIDENTIAL: Final = "confidential"
#: The privacy level whose reporter agencies may see.
PUBLIC_PRIVACY: Final = "public"
#: The role of an actor who is nobody in particular: the public pages and Open311 readers.
PUBLIC_ROLE: Final = "public"
#: Decimal places of coordinates that leave the gateway without their reporter (about 100 m).
COARSE_DECIMALS: Final = 3


def is_confidential(ticket: Ticket) -> bool:
    """Confidential tickets never become public; anywhere public they show their status at most."""
    return ticket.privacy == CONFIDENTIAL


def is_verified(ticket: Ticket) -> bool:
    """Whether a person confirmed the ticket and its agency (see `mark_verified`), and it is still with one.

    Until then its agency is only routing's guess and its text nobody's judgement:
    counts may include it, as "belum terverifikasi", but nothing else of it is public.
    """
    return ticket.verified_at is not None and ticket.status not in lc.PRE_DISPATCH_STATUSES


def verified_clause() -> ColumnElement[bool]:
    """`is_verified` in SQL."""
    return and_(Ticket.verified_at.is_not(None), Ticket.status.notin_(tuple(lc.PRE_DISPATCH_STATUSES)))


def is_public(ticket: Ticket) -> bool:
    """Whether the ticket's (redacted) text, place and agency may appear on public surfaces.

    Verified and not confidential: `/`, `/statistik`, Open311 and unsigned media use this.
    """
    return is_verified(ticket) and not is_confidential(ticket)


def public_tickets_clause() -> ColumnElement[bool]:
    """`is_public` in SQL."""
    return and_(verified_clause(), Ticket.privacy != CONFIDENTIAL)


def _disposed_to(agency_id: int | None, ticket: Ticket) -> bool:
    return (
        agency_id is not None
        and ticket.agency_id == agency_id
        and ticket.dispatched_at is not None
        and ticket.status not in lc.PRE_DISPATCH_STATUSES
    )


def _disposed_to_clause(agency_id: int | None) -> ColumnElement[bool]:
    if agency_id is None:
        return false()
    return and_(
        Ticket.agency_id == agency_id,
        Ticket.dispatched_at.is_not(None),
        Ticket.status.notin_(tuple(lc.PRE_DISPATCH_STATUSES)),
    )


def can_see(actor: Actor, ticket: Ticket) -> bool:
    """Whether ``actor`` may see ``ticket`` at all (the agency boundary).

    An agency sees tickets disposed to it, not those still waiting for the
    coordinator's verification even when routing already suggests it, nor those
    archived before they ever reached it. The public sees what `is_public` allows.
    """
    if actor.city_wide:
        return True
    if actor.role == lc.CITIZEN:
        return actor.id is not None and ticket.contact_id == actor.id
    if actor.agency_bound:
        return _disposed_to(actor.agency_id, ticket)
    if actor.role == PUBLIC_ROLE:
        return is_public(ticket)
    return False


def visible_clause(actor: Actor) -> ColumnElement[bool]:
    """`can_see` in SQL, for lists, searches, exports and counts."""
    if actor.city_wide:
        return true()
    if actor.role == lc.CITIZEN:
        return Ticket.contact_id == actor.id if actor.id is not None else false()
    if actor.agency_bound:
        return _disposed_to_clause(actor.agency_id)
    if actor.role == PUBLIC_ROLE:
        return public_tickets_clause()
    return false()


def visible_tickets_query(actor: Actor) -> Select[Any]:
    """``select(Ticket)`` limited to what ``actor`` may see; add filters and ordering to it."""
    return select(Ticket).where(visible_clause(actor))


def reveals_reporter(actor: Actor, ticket: Ticket | None) -> bool:
    """Whether ``actor`` may see who reported (their address, name and provider message ids).

    Agencies never see the reporter of an anonymous or confidential ticket; the
    public never sees an address. A message with no ticket reveals its sender to
    city-wide actors only.
    """
    if actor.city_wide:
        return True
    if ticket is None:
        return False
    if actor.role == lc.CITIZEN:
        return can_see(actor, ticket)
    if actor.agency_bound:
        return ticket.privacy == PUBLIC_PRIVACY and can_see(actor, ticket)
    return False


def reveals_reporter_clause(actor: Actor) -> ColumnElement[bool]:
    """`reveals_reporter` in SQL (a search by the reporter's address must not find hidden ones)."""
    if actor.city_wide:
        return true()
    if actor.role == lc.CITIZEN:
        return visible_clause(actor)
    if actor.agency_bound:
        return and_(Ticket.privacy == PUBLIC_PRIVACY, visible_clause(actor))
    return false()


def names_reporter_publicly(ticket: Ticket) -> bool:
    """Whether the public listing may show the reporter's initials: only a public ticket's.

    Never an address (see `reveals_reporter`); an anonymous or confidential ticket has
    no reporter at all in public.
    """
    return ticket.privacy == PUBLIC_PRIVACY


def counted_clause(actor: Actor) -> ColumnElement[bool]:
    """Which tickets ``actor``'s published figures count.

    The public's counts include every ticket (numbers only: unverified ones under
    "belum terverifikasi", see `attributed_agency`); everyone else counts what they see.
    """
    if actor.role == PUBLIC_ROLE:
        return true()
    return visible_clause(actor)


def attributed_agency(actor: Actor) -> Any:
    """The agency a ticket is counted under for ``actor``: for the public, only a verified one."""
    if actor.role == PUBLIC_ROLE:
        return case((verified_clause(), Ticket.agency_id), else_=null())
    return Ticket.agency_id


def attributed_area(actor: Actor) -> Any:
    """The kecamatan a ticket is counted under for ``actor``: for the public, only a public ticket's.

    A place may appear publicly only when `is_public` says so; the rest still count, with no place.
    """
    if actor.role == PUBLIC_ROLE:
        return case((public_tickets_clause(), Ticket.area), else_=null())
    return Ticket.area


def coarse_coordinate(value: float | None) -> float | None:
    """A latitude or longitude rounded to about 100 m: a pin that does not point at a house."""
    return None if value is None else round(float(value), COARSE_DECIMALS)
