"""GET /api/v1/agencies and /api/v1/categories: the reference data other systems map to theirs."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from sqlalchemy import select

from gateway.store.models import Agency
from gateway.web.api.auth import api_error, require_token
from gateway.web.api.blueprint import api_bp


def _no_params() -> Any:
    if request.args:
        names = ", ".join(sorted(request.args))
        return api_error(400, "unknown_parameter", f"unknown parameter(s): {names}")
    return None


@api_bp.get("/agencies")
@require_token
def list_agencies() -> Any:
    """The agencies (OPD) tickets are routed to.
    ---
    get:
      operationId: listAgencies
      summary: Agencies and the categories each handles
      tags: [reference]
      responses:
        "200":
          description: All active agencies, the coordinator flagged.
          content:
            application/json:
              schema:
                type: object
                required: [agencies]
                properties:
                  agencies:
                    type: array
                    items: {$ref: "#/components/schemas/Agency"}
        "400": {$ref: "#/components/responses/BadRequest"}
        "401": {$ref: "#/components/responses/Unauthorized"}
    """
    refused = _no_params()
    if refused is not None:
        return refused
    runtime = current_app.extensions["lapor"]
    with runtime.db.session() as session:
        rows = session.scalars(select(Agency).where(Agency.active.is_(True)).order_by(Agency.code)).all()
        items = [
            {
                "code": a.code,
                "name": a.name,
                "coordinator": bool(a.is_coordinator),
                "categories": list(a.categories or []),
                "areas": list(a.areas or []),
            }
            for a in rows
        ]
    return {"agencies": items}


@api_bp.get("/categories")
@require_token
def list_categories() -> Any:
    """Complaint categories (also the Open311 services).
    ---
    get:
      operationId: listCategories
      summary: Complaint categories with their names, keywords and deadlines
      tags: [reference]
      responses:
        "200":
          description: Categories of config/categories.yaml.
          content:
            application/json:
              schema:
                type: object
                required: [categories]
                properties:
                  categories:
                    type: array
                    items: {$ref: "#/components/schemas/Category"}
        "400": {$ref: "#/components/responses/BadRequest"}
        "401": {$ref: "#/components/responses/Unauthorized"}
    """
    refused = _no_params()
    if refused is not None:
        return refused
    runtime = current_app.extensions["lapor"]
    from gateway.tickets import policy

    items = [
        {
            "code": c.code,
            "name": {"id": c.name("id"), "en": c.name("en")},
            "keywords": list(c.keywords),
            "auto_dispatch": c.auto_dispatch,
            "deadlines": policy.deadlines(runtime, c.code),
        }
        for c in runtime.catalog.categories
    ]
    return {"categories": items}
