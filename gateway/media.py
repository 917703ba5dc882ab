"""GET /media/<name>: a stored photo, for forward targets that fetch ``media_url``.

Only files attached to a ticket that is not confidential are served; names are
content hashes, so they cannot be guessed. Operators see photos through the
inbox, which checks their agency instead.
"""

from __future__ import annotations

import re

from flask import Blueprint, abort, current_app, send_from_directory
from sqlalchemy import String, cast, select

from gateway.models import Message, Ticket

media_bp = Blueprint("media", __name__)

_NAME = re.compile(r"^[0-9a-f]{32}\.[a-z0-9]{1,8}$")


@media_bp.get("/media/<name>")
def media(name: str):  # type: ignore[no-untyped-def]
    if not _NAME.match(name):
        abort(404)
    runtime = current_app.extensions["lapor"]
    with runtime.db.session() as session:
        privacy = session.scalars(
            select(Ticket.privacy)
            .join(Message, Message.ticket_id == Ticket.id)
            .where(cast(Message.attachments, String).like(f'%"{name}"%'))
        ).all()
    if not privacy or "confidential" in privacy:
        abort(404)
    response = send_from_directory(runtime.settings.media_dir, name, max_age=3600)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
