"""POST /api/v1/tickets/<tracking>/status and /replies: the operators' actions, for systems.

A token acts with the same rules as an operator: an unscoped token like the
coordinator, an agency token like that agency's operators, and only on tickets
it can see (others answer 404, as if they did not exist). A refused transition
answers with the reason: 403 for who may not, 409 for a status it cannot leave
that way, 422 for a missing or wrong argument.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import current_app, g, request

from conversations import lifecycle as lc
from gateway.tickets import service, visibility
from gateway.web.api.auth import api_error, audit_token, require_token
from gateway.web.api.blueprint import api_bp
from gateway.web.api.serialize import event_json, message_json, ticket_json

REFUSAL_STATUS = {
    "forbidden": 403,
    "invalid_transition": 409,
    "unknown_action": 422,
    "missing_argument": 422,
    "invalid_argument": 422,
}
STATUS_FIELDS = {"status", "note", "agency", "reason", "duplicate_of"}
REPLY_FIELDS = {"text"}


def _json_body(allowed: set[str]) -> tuple[dict[str, Any] | None, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return None, api_error(400, "invalid_json", "send a JSON object with Content-Type: application/json")
    unknown = set(body) - allowed
    if unknown:
        return None, api_error(400, "unknown_field", f"unknown field(s): {', '.join(sorted(unknown))}")
    for name, value in body.items():
        if value is not None and not isinstance(value, str):
            return None, api_error(422, "invalid_argument", f"{name!r} must be a string")
    return body, None


def _refused(exc: lc.TransitionRefused) -> Any:
    return api_error(REFUSAL_STATUS.get(exc.code, 422), exc.code, exc.message)


@api_bp.post("/tickets/<tracking>/status")
@require_token
def change_status(tracking: str) -> Any:
    """``{"status": ..., "note": ..., "agency": ..., "reason": ..., "duplicate_of": ...}``.

    ``status`` is the status wanted (``dispatched``, ``in_progress``...) or an action
    name (``not_our_authority``, ``reopen``...); the ticket's current status decides
    which transition a status means.
    """
    body, error = _json_body(STATUS_FIELDS)
    if error is not None:
        return error
    assert body is not None
    requested = (body.get("status") or "").strip()
    if not requested:
        return api_error(422, "missing_argument", "'status' is required")
    actor: service.Actor = g.api_actor
    runtime = current_app.extensions["lapor"]
    try:
        with runtime.db.session() as session:
            ticket = service.find_ticket(session, actor, tracking)
            if ticket is None:
                return api_error(404, "not_found", f"no ticket #{tracking.lstrip('#')}")
            action = lc.action_for(ticket.status, requested)
            event = service.transition(
                session,
                runtime,
                ticket,
                action,
                actor,
                note=body.get("note"),
                agency=body.get("agency"),
                reason=body.get("reason"),
                duplicate_of=body.get("duplicate_of"),
            )
            audit_token(session, g.api_token, f"ticket.{action}", ticket, body.get("note"))
            result = ticket_json(ticket, reveal=visibility.reveals_reporter(actor, ticket))
            result["event"] = event_json(event)
    except lc.TransitionRefused as exc:
        return _refused(exc)
    return result, 200


def _reply_key(actor: service.Actor, ticket_id: int, key: str | None) -> str | None:
    """The message's dedupe key for an ``Idempotency-Key``: one token's key on one ticket.

    Another token, or the same token on another ticket, using the same string makes
    a request of its own rather than getting the first answer (which would show one
    ticket's reply to a request about another). Digested, so any length is whole.
    """
    if not key:
        return None
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:40]
    return f"api-reply:{actor.id}:{ticket_id}:{digest}"


@api_bp.post("/tickets/<tracking>/replies")
@require_token
def reply(tracking: str) -> Any:
    """``{"text": ...}``: a message to the citizen on their channel, queued for sending."""
    body, error = _json_body(REPLY_FIELDS)
    if error is not None:
        return error
    assert body is not None
    actor: service.Actor = g.api_actor
    runtime = current_app.extensions["lapor"]
    key = request.headers.get("Idempotency-Key")
    try:
        with runtime.db.session() as session:
            ticket = service.find_ticket(session, actor, tracking)
            if ticket is None:
                return api_error(404, "not_found", f"no ticket #{tracking.lstrip('#')}")
            message = service.operator_reply(
                session,
                runtime,
                ticket,
                actor,
                body.get("text") or "",
                dedupe_key=_reply_key(actor, ticket.id, key),
            )
            audit_token(session, g.api_token, "ticket.reply", ticket, f"message {message.id}")
            result = message_json(message, reveal=visibility.reveals_reporter(actor, ticket))
    except lc.TransitionRefused as exc:
        return _refused(exc)
    return result, 201
