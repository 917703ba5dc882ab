"""GET /api/v1/openapi.json: the API's OpenAPI 3.1 document, generated from the running app.

The document is built with apispec from what is actually registered: every rule
of the API blueprint is a path, and its operation comes from the view's
docstring (YAML after ``---``) or, for views whose docstrings are prose, from
`OPERATIONS` below, whose query parameters are read from the views' own
allow-lists. A view with no description fails the build (and the tests), so the
document cannot drift from the implementation unnoticed.
"""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.yaml_utils import load_operations_from_docstring
from flask import Flask, current_app, jsonify

from gateway.web.api.blueprint import api_bp
from gateway.web.bounds import MAX_ID, MOMENT_PATTERN

API_TITLE = "lapor-gateway API"
API_VERSION = "1.0.0"
_NULLABLE_STRING = {"type": ["string", "null"]}
_TRACKING = {
    "name": "tracking",
    "in": "path",
    "required": True,
    "description": "tracking number, 8 digits (the last a Damm check digit), with or without #",
    "schema": {"type": "string", "pattern": "^#?[0-9]{8}$"},
}
_STATUSES = ["unverified", "deferred", "dispatched", "in_progress", "resolved", "archived"]


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


COMPONENT_RESPONSES: dict[str, dict[str, Any]] = {
    "BadRequest": _error_response("Malformed, unknown or out-of-range parameter."),
    "Unauthorized": _error_response("Missing, unknown or revoked bearer token."),
    "Forbidden": _error_response("The token's agency may not do this."),
    "NotFound": _error_response("No such resource (or not visible to this token)."),
    "Conflict": _error_response("The ticket's status does not allow this."),
    "Unprocessable": _error_response("A field is missing or has a wrong value."),
}

_COUNTS = {
    "type": "object",
    "properties": {s: {"type": "integer", "minimum": 0} for s in _STATUSES},
    "additionalProperties": {"type": "integer"},
}
_GROUP_ROW = {
    "type": "object",
    "required": ["code", "name", "total", "open", "by_status"],
    "properties": {
        "code": _NULLABLE_STRING,
        "name": _NULLABLE_STRING,
        "total": {"type": "integer"},
        "open": {"type": "integer"},
        "by_status": _COUNTS,
    },
}
_NULLABLE_NUMBER = {"type": ["number", "null"]}
_RATING_ROW = {
    "type": "object",
    "required": ["count", "average"],
    "properties": {
        "code": {"type": ["string", "null"]},
        "name": {"type": ["string", "null"]},
        "month": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
        "count": {"type": "integer"},
        "average": _NULLABLE_NUMBER,
    },
}
#: Ratings 1-5 of the handling (issue 20): averages and counts only, never the comments.
_SATISFACTION = {
    "type": "object",
    "required": ["count", "average", "distribution", "agencies", "categories", "trend"],
    "properties": {
        "count": {"type": "integer"},
        "average": _NULLABLE_NUMBER,
        "distribution": {"type": "object", "additionalProperties": {"type": "integer"}},
        "agencies": {"type": "array", "items": _RATING_ROW},
        "categories": {"type": "array", "items": _RATING_ROW},
        "trend": {"type": "array", "items": _RATING_ROW},
    },
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            }
        },
    },
    "Agency": {
        "type": "object",
        "required": ["code", "name", "coordinator", "categories", "areas"],
        "properties": {
            "code": {"type": "string"},
            "name": {"type": "string"},
            "coordinator": {"type": "boolean"},
            "categories": {"type": "array", "items": {"type": "string"}},
            "areas": {"type": "array", "items": {"type": "string"}},
        },
    },
    "Category": {
        "type": "object",
        "required": ["code", "name", "keywords", "auto_dispatch", "deadlines"],
        "properties": {
            "code": {"type": "string"},
            "name": {
                "type": "object",
                "properties": {"id": {"type": "string"}, "en": {"type": "string"}},
            },
            "keywords": {"type": "array", "items": {"type": "string"}},
            "auto_dispatch": {"type": "boolean"},
            "deadlines": {"type": "object", "additionalProperties": {"type": "integer"}},
        },
    },
    "Stats": {
        "type": "object",
        "required": [
            "total",
            "open",
            "by_status",
            "agencies",
            "categories",
            "channels",
            "resolved",
            "resolved_within_deadline",
            "resolved_within_deadline_share",
            "median_working_days_to_follow_up",
            "median_working_days_to_resolution",
            "trend",
        ],
        "properties": {
            "period": {"type": "object"},
            "total": {"type": "integer"},
            "open": {"type": "integer"},
            "by_status": _COUNTS,
            "agencies": {"type": "array", "items": _GROUP_ROW},
            "categories": {"type": "array", "items": _GROUP_ROW},
            "channels": {"type": "array", "items": _GROUP_ROW},
            "resolved": {"type": "integer"},
            "resolved_within_deadline": {"type": "integer"},
            "resolved_within_deadline_share": _NULLABLE_NUMBER,
            "median_working_days_to_follow_up": _NULLABLE_NUMBER,
            "median_working_days_to_resolution": _NULLABLE_NUMBER,
            "trend": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["month", "received", "resolved"],
                    "properties": {
                        "month": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
                        "received": {"type": "integer"},
                        "resolved": {"type": "integer"},
                    },
                },
            },
            "satisfaction": _SATISFACTION,
            "supporters": {
                "type": "integer",
                "description": "citizens who joined or were merged into a ticket",
            },
        },
    },
    "Ticket": {
        "type": "object",
        "required": ["tracking", "status", "privacy", "created_at"],
        "properties": {
            "tracking": {"type": "string"},
            "status": {"type": "string", "enum": _STATUSES},
            "agency": _NULLABLE_STRING,
            "agency_name": _NULLABLE_STRING,
            "category": _NULLABLE_STRING,
            "description": {"type": "string"},
            "location": {"type": "object"},
            "privacy": {"type": "string"},
            "channel": _NULLABLE_STRING,
            "reporter": _NULLABLE_STRING,
            "language": {"type": "string"},
            "deadline": _NULLABLE_STRING,
            "overdue": {"type": "boolean"},
            "created_at": _NULLABLE_STRING,
            "updated_at": _NULLABLE_STRING,
            "resolved_at": _NULLABLE_STRING,
        },
    },
    "Event": {
        "type": "object",
        "properties": {
            "action": {"type": "string"},
            "from_status": _NULLABLE_STRING,
            "to_status": _NULLABLE_STRING,
            "actor": _NULLABLE_STRING,
            "note": _NULLABLE_STRING,
            "at": _NULLABLE_STRING,
        },
    },
    "Message": {
        "type": "object",
        "required": ["id", "direction", "channel", "text"],
        "properties": {
            "id": {"type": "integer"},
            "direction": {"type": "string", "enum": ["in", "out"]},
            "channel": {"type": "string"},
            "provider_message_id": _NULLABLE_STRING,
            "contact": _NULLABLE_STRING,
            "sender": _NULLABLE_STRING,
            "recipient": _NULLABLE_STRING,
            "sender_name": _NULLABLE_STRING,
            "author": {"type": "string"},
            "kind": {"type": "string"},
            "text": {"type": "string"},
            "attachments": {"type": "array", "items": {"type": "object"}},
            "location": {"type": ["object", "null"]},
            "ticket": {"type": ["integer", "null"]},
            "delivery_status": _NULLABLE_STRING,
            "failure_reason": _NULLABLE_STRING,
            "created_at": _NULLABLE_STRING,
            "sent_at": _NULLABLE_STRING,
        },
    },
}
SCHEMAS["TicketDetail"] = {
    "allOf": [
        {"$ref": "#/components/schemas/Ticket"},
        {
            "type": "object",
            "required": ["history", "thread"],
            "properties": {
                "history": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
                "thread": {"type": "array", "items": {"$ref": "#/components/schemas/Message"}},
            },
        },
    ]
}


# Query text may not carry NUL bytes: PostgreSQL cannot compare them, so the app refuses them (400).
NO_NUL = "^[^\\u0000]*$"


def _no_nul(schema: dict[str, Any]) -> dict[str, Any]:
    plain_text = not {"pattern", "enum", "format"} & set(schema)
    return schema | {"pattern": NO_NUL} if schema.get("type") == "string" and plain_text else schema


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    schema = _no_nul(schema)
    return {"name": name, "in": "query", "description": description, "schema": schema}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ALL_ERRORS = ("BadRequest", "Unauthorized", "Forbidden", "NotFound", "Conflict", "Unprocessable")


def _array_of(name: str) -> dict[str, Any]:
    return {"type": "array", "items": {"$ref": f"#/components/schemas/{name}"}}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _refs(*names: str) -> dict[str, Any]:
    codes = {
        "BadRequest": "400",
        "Unauthorized": "401",
        "Forbidden": "403",
        "NotFound": "404",
        "Conflict": "409",
        "Unprocessable": "422",
    }
    return {codes[n]: {"$ref": f"#/components/responses/{n}"} for n in names}


def _ticket_list_params() -> list[dict[str, Any]]:
    from gateway.web.api import tickets

    known = {
        "status": _query("status", "ticket status", {"type": "string", "enum": _STATUSES}),
        "agency": _query("agency", "agency code (an unknown one matches nothing)", {"type": "string"}),
        "channel": _query("channel", "channel name (an unknown one matches nothing)", {"type": "string"}),
        "since": _query(
            "since",
            "created at or after (ISO 8601, years 2000-2999)",
            {"type": "string", "format": "date-time", "pattern": MOMENT_PATTERN},
        ),
        "q": _query("q", "tracking number or words of the text", {"type": "string", "maxLength": 200}),
        "limit": _query("limit", "page size", {"type": "integer", "minimum": 1, "maximum": 500}),
        "page": _query("page", "page number", {"type": "integer", "minimum": 1, "maximum": 100000}),
    }
    return [known[name] for name in sorted(tickets.LIST_ALLOWED)]


def _message_list_params() -> list[dict[str, Any]]:
    from gateway.web.api import messages

    known = {
        "channel": _query("channel", "channel name (an unknown one matches nothing)", {"type": "string"}),
        "direction": _query("direction", "in or out", {"type": "string", "enum": ["in", "out"]}),
        "contact": _query("contact", "address such as tel:+62...", {"type": "string"}),
        "since": _query(
            "since",
            "created at or after (ISO 8601, years 2000-2999)",
            {"type": "string", "format": "date-time", "pattern": MOMENT_PATTERN},
        ),
        "limit": _query("limit", "page size", {"type": "integer", "minimum": 1, "maximum": 500}),
        "before": _query(
            "before",
            "messages with a smaller id (paging)",
            {"type": "integer", "minimum": 0, "maximum": MAX_ID},
        ),
    }
    return [known[name] for name in sorted(messages.ALLOWED)]


def _status_body() -> dict[str, Any]:
    from gateway.web.api import ticket_actions

    return {
        "type": "object",
        "required": ["status"],
        "additionalProperties": False,
        "properties": {
            **{name: {"type": ["string", "null"]} for name in sorted(ticket_actions.STATUS_FIELDS)},
            "status": {"type": "string", "pattern": "\\S", "description": "status wanted or action name"},
        },
    }


def _reply_body() -> dict[str, Any]:
    from gateway.web.api import ticket_actions

    return {
        "type": "object",
        "required": ["text"],
        "additionalProperties": False,
        "properties": {name: {"type": "string", "maxLength": 4096} for name in ticket_actions.REPLY_FIELDS},
    }


def _operations() -> dict[str, dict[str, Any]]:
    """Operations of views whose docstrings are prose (tickets, messages, ticket actions)."""
    return {
        "api.list_tickets": {
            "get": {
                "operationId": "listTickets",
                "summary": "Tickets, newest activity first; an agency token sees those disposed to it",
                "tags": ["tickets"],
                "parameters": _ticket_list_params(),
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["tickets", "page", "limit"],
                            "properties": {
                                "tickets": _array_of("Ticket"),
                                "page": {"type": "integer"},
                                "limit": {"type": "integer"},
                            },
                        },
                        "One page of tickets.",
                    ),
                    **_refs("BadRequest", "Unauthorized"),
                },
            }
        },
        "api.get_ticket": {
            "get": {
                "operationId": "getTicket",
                "summary": "One ticket with its status history and message thread",
                "tags": ["tickets"],
                "parameters": [_TRACKING],
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/TicketDetail"}, "The ticket."),
                    **_refs("Unauthorized", "NotFound"),
                },
            }
        },
        "api.change_status": {
            "post": {
                "operationId": "changeTicketStatus",
                "summary": "Move a ticket to a status (or apply an action such as not_our_authority)",
                "tags": ["tickets"],
                "parameters": [_TRACKING],
                "requestBody": _body(_status_body()),
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/Ticket"}, "The ticket after the change."),
                    **_refs(*_ALL_ERRORS),
                },
            }
        },
        "api.reply": {
            "post": {
                "operationId": "replyToCitizen",
                "summary": "Queue a reply to the citizen on their channel",
                "tags": ["tickets"],
                "parameters": [
                    _TRACKING,
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "maxLength": 200},
                    },
                ],
                "requestBody": _body(_reply_body()),
                "responses": {
                    "201": _json({"$ref": "#/components/schemas/Message"}, "The queued message."),
                    **_refs(*_ALL_ERRORS),
                },
            }
        },
        "api.list_messages": {
            "get": {
                "operationId": "listMessages",
                "summary": "Normalized inbound and outbound messages, newest first",
                "tags": ["messages"],
                "parameters": _message_list_params(),
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["messages"],
                            "properties": {
                                "messages": _array_of("Message"),
                                "next": {"type": ["object", "null"]},
                            },
                        },
                        "One page of messages.",
                    ),
                    **_refs("BadRequest", "Unauthorized"),
                },
            }
        },
        "api.openapi_document": {
            "get": {
                "operationId": "getOpenApiDocument",
                "summary": "This document",
                "tags": ["meta"],
                "security": [],
                "responses": {"200": _json({"type": "object"}, "The OpenAPI 3.1 document.")},
            }
        },
    }


_RULE_ARG = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


class UndocumentedEndpoint(RuntimeError):
    """An API route with neither a YAML docstring nor an entry in OPERATIONS."""


def build_spec(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route registered on the API blueprint."""
    spec = APISpec(
        title=API_TITLE,
        version=API_VERSION,
        openapi_version="3.1.0",
        info={
            "description": "Tickets, messages and statistics of the SP4N-LAPOR! gateway. "
            'Errors are {"error": {"code", "message"}} with a fitting 4xx.'
        },
        servers=[{"url": "/api/v1"}],
        security=[{"bearerAuth": []}],
    )
    spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    for name, schema in SCHEMAS.items():
        spec.components.schema(name, schema)
    for name, response in COMPONENT_RESPONSES.items():
        spec.components.response(name, response)
    structured = _operations()
    prefix = api_bp.url_prefix or ""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.endpoint.startswith(api_bp.name + "."):
            continue
        view = app.view_functions[rule.endpoint]
        operations = load_operations_from_docstring(view.__doc__ or "") or structured.get(rule.endpoint)
        if not operations:
            raise UndocumentedEndpoint(f"{rule.endpoint} ({rule.rule}) has no OpenAPI description")
        methods = {m.lower() for m in (rule.methods or set())} - {"head", "options"}
        operations = {m: op for m, op in operations.items() if m in methods}
        for operation in operations.values():
            for param in operation.get("parameters", []):
                if param.get("in") == "query" and "schema" in param:
                    param["schema"] = _no_nul(param["schema"])
        path = _RULE_ARG.sub(r"{\1}", rule.rule[len(prefix) :])
        spec.path(path=path, operations=operations)
    return spec.to_dict()


@api_bp.get("/openapi.json")
def openapi_document() -> Any:
    """Served without a token, so clients and generators can read it."""
    document = current_app.extensions.get("lapor_openapi")
    if document is None:
        document = build_spec(current_app._get_current_object())  # type: ignore[attr-defined]
        current_app.extensions["lapor_openapi"] = document
    return jsonify(document)
