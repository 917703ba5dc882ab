"""Bearer tokens: created by `lapor-gateway api-token create`, stored as SHA-256 hashes.

Tokens are 32 random bytes, so a fast hash is enough: nobody can guess one to
brute-force a hash of it. A token is scoped to every agency or to one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from flask import current_app, g, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.store.models import ApiToken, AuditEntry, Ticket, utcnow
from gateway.tickets import visibility

TOKEN_PREFIX = "lpr_"  # noqa: S105 - a visible prefix, not a secret


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, name: str, agency_id: int | None = None) -> tuple[ApiToken, str]:
    """A new token row and the token itself, which is shown once and never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=name, token_hash=hash_token(token), prefix=token[:10], agency_id=agency_id)
    session.add(row)
    session.flush()
    return row, token


def api_error(status: int, code: str, message: str, **extra: Any) -> Any:
    """The API's one error shape: ``{"error": {"code": ..., "message": ...}}``."""
    body: dict[str, Any] = {"code": code, "message": message}
    body.update(extra)
    return jsonify(error=body), status


def _actor_for(token: ApiToken) -> Any:
    from gateway.tickets.service import Actor

    return Actor(
        kind="api",
        id=token.id,
        role="api-agency" if token.agency_id else "api-all",
        agency_id=token.agency_id,
        label=f"API: {token.name}",
    )


def audit_token(
    session: Session, token: ApiToken, action: str, ticket: Ticket | None = None, detail: str | None = None
) -> None:
    """One AuditEntry for what a token did or read, named as its actions are (``API: <name>``).

    The same actions as the inbox writes (``ticket.<action>``, ``ticket.reply``, ``ticket.view``),
    so an admin reading a ticket's trail sees operators and systems alike; in the caller's
    transaction, so a refused action leaves no entry.
    """
    session.add(
        AuditEntry(
            operator_id=None,
            actor_label=_actor_for(token).label[:255],
            action=action,
            ticket_id=ticket.id if ticket is not None else None,
            detail=(detail or "")[:2000] or None,
        )
    )


def audit_confidential_reads(
    session: Session, token: ApiToken, tickets: Iterable[Ticket | None], how: str
) -> None:
    """A ``ticket.view`` entry for each confidential ticket among ``tickets`` (as the inbox does)."""
    seen: set[int] = set()
    for ticket in tickets:
        if ticket is not None and visibility.is_confidential(ticket) and ticket.id not in seen:
            seen.add(ticket.id)
            audit_token(session, token, "ticket.view", ticket, how)


def require_token(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse the request with 401 unless it carries a valid, unrevoked bearer token.

    Sets ``g.api_token`` (the row) and ``g.api_actor`` (the ticket service's actor).
    """

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return api_error(401, "unauthorized", "send Authorization: Bearer <token>")
        digest = hash_token(token.strip())
        runtime = current_app.extensions["lapor"]
        with runtime.db.session() as session:
            row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
            if row is None or row.revoked_at is not None or not hmac.compare_digest(row.token_hash, digest):
                return api_error(401, "unauthorized", "unknown or revoked token")
            row.last_used_at = utcnow()
            session.expunge(row)
        g.api_token = row
        g.api_actor = _actor_for(row)
        return view(*args, **kwargs)

    return wrapper
