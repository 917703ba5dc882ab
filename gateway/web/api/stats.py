"""GET /api/v1/stats: the published figures, for one agency or all, over a period."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request
from sqlalchemy import select

from gateway.store.models import Agency
from gateway.tickets.statistics import stats_for
from gateway.web.api.auth import api_error, require_token
from gateway.web.api.blueprint import api_bp
from gateway.web.api.messages import parse_since

ALLOWED = {"since", "until", "agency", "lang"}


@api_bp.get("/stats")
@require_token
def get_stats() -> Any:
    """Counts by status, agency, category and channel; deadline share; medians; monthly trend.

    An agency-scoped token sees its own agency's figures (the tickets disposed to it,
    as everywhere else); asking for another answers 403.
    ---
    get:
      operationId: getStats
      summary: Complaint-handling statistics
      tags: [stats]
      parameters:
        - {name: since, in: query, description: "created at or after (ISO 8601, years 2000-2999)",
           schema: {type: string, format: date-time, pattern: "^2[0-9]{3}-"}}
        - {name: until, in: query, description: "created before (ISO 8601, years 2000-2999)",
           schema: {type: string, format: date-time, pattern: "^2[0-9]{3}-"}}
        - {name: agency, in: query, description: agency code, schema: {type: string, maxLength: 64}}
        - {name: lang, in: query, description: language of category names,
           schema: {type: string, enum: [id, en]}}
      responses:
        "200":
          description: The figures.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Stats"}
        "400": {$ref: "#/components/responses/BadRequest"}
        "401": {$ref: "#/components/responses/Unauthorized"}
        "403": {$ref: "#/components/responses/Forbidden"}
        "404": {$ref: "#/components/responses/NotFound"}
    """
    unknown = set(request.args) - ALLOWED
    if unknown:
        return api_error(400, "unknown_parameter", f"unknown parameter(s): {', '.join(sorted(unknown))}")
    try:
        since = parse_since(request.args["since"], "since") if "since" in request.args else None
        until = parse_since(request.args["until"], "until") if "until" in request.args else None
    except ValueError as exc:
        return api_error(400, "invalid_parameter", str(exc))
    lang = request.args.get("lang", "id")
    if lang not in ("id", "en"):
        return api_error(400, "invalid_parameter", "lang must be 'id' or 'en'")
    token = g.api_token
    runtime = current_app.extensions["lapor"]
    with runtime.db.session() as session:
        agency_id = token.agency_id
        code = request.args.get("agency")
        if code:
            agency = session.scalar(select(Agency).where(Agency.code == code))
            if agency is None:
                return api_error(404, "not_found", f"no agency {code!r}")
            if token.agency_id is not None and agency.id != token.agency_id:
                return api_error(403, "forbidden", "this token is scoped to another agency")
            agency_id = agency.id
        return stats_for(
            runtime,
            session,
            actor=g.api_actor,
            since=since,
            until=until,
            agency_id=agency_id,
            language=lang,
        )
