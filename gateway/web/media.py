"""GET /media/<name>: a stored attachment, outside the inbox; and the one builder of every media response.

Who gets a file here (the inbox has its own route, `/inbox/media/...`, behind
the login and the visibility rule):

* anyone holding a signed link (`gateway.attachments.links`): forward targets,
  providers we send a file through, the ticket's own citizen;
* anyone at all, unsigned, only when every ticket the file belongs to is public
  (`gateway.tickets.visibility.is_public`: verified and not confidential).

Everything else is 404 (403 for a link whose signature is wrong or expired).

However it is reached, a file is served by :func:`media_response`: as its
*sniffed* type (`gateway.attachments.content_types`), decided from its bytes at serve time, so
a file kept before sniffing existed under a sender's ``.html`` or ``.svg`` name is
no exception; anything not on the allowlist only as an
``application/octet-stream`` download. Every media response says ``nosniff`` and
carries a sandboxing CSP, so even a file a browser did open could run nothing
with our origin.
"""

from __future__ import annotations

import io

from flask import Blueprint, Response, abort, current_app, request, send_file, send_from_directory

from gateway.attachments.links import EXPIRES, SIGNATURE, verify
from gateway.attachments.store import (
    FilesystemMedia,
    MediaPlace,
    as_backend,
    media_backend,
    stored_type,
    tickets_holding,
    valid_name,
)
from gateway.tickets import visibility

media_bp = Blueprint("media", __name__)

#: The CSP of every media response: no scripts, no plugins, no same-origin access even if opened.
MEDIA_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
MAX_AGE = 3600


def media_response(where: MediaPlace, name: str) -> Response:
    """A stored file as a response, typed by its content; 404 when it is gone. Both media routes use this."""
    backend = as_backend(where)
    if not valid_name(name) or not backend.exists(name):
        abort(404)
    kind = stored_type(backend, name)
    stem = name.split(".", 1)[0]
    if isinstance(backend, FilesystemMedia):
        response = send_from_directory(
            backend.media_dir,
            name,
            mimetype=kind.mime,
            as_attachment=not kind.inline,
            download_name=stem + kind.extension,
            max_age=MAX_AGE,
        )
    else:  # an object store: the bytes through this process (files are small: photos, PDFs)
        data = backend.get(name)
        if data is None:
            abort(404)
        response = send_file(
            io.BytesIO(data),
            mimetype=kind.mime,
            as_attachment=not kind.inline,
            download_name=stem + kind.extension,
            max_age=MAX_AGE,
            etag=stem,  # the name is the content's hash
        )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = MEDIA_CSP
    # Per-viewer answers (a login, a link): no shared cache may keep them for others.
    response.headers["Cache-Control"] = f"private, max-age={MAX_AGE}"
    return response


@media_bp.get("/media/<name>")
def media(name: str) -> Response:
    if not valid_name(name):
        abort(404)
    runtime = current_app.extensions["lapor"]
    expires, signature = request.args.get(EXPIRES), request.args.get(SIGNATURE)
    as_link = expires is not None or signature is not None
    if as_link and verify(runtime.settings, name, expires, signature):
        return media_response(media_backend(runtime.settings), name)
    with runtime.db.session() as session:
        tickets = tickets_holding(session, name)
        public = bool(tickets) and all(visibility.is_public(ticket) for ticket in tickets)
    if not public:
        abort(403 if as_link else 404)
    return media_response(media_backend(runtime.settings), name)
