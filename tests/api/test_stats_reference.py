"""GET /api/v1/stats, /agencies and /categories, and the token's agency scope."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from gateway.store.models import Agency
from gateway.web.api.auth import create_token
from tests.public.conftest import seed_tickets


def _token(runtime: Any, agency_code: str | None = None) -> dict[str, str]:
    with runtime.db.session() as session:
        query = select(Agency.id).where(Agency.code == agency_code)
        agency_id = session.scalar(query) if agency_code else None
        _row, token = create_token(session, "test", agency_id=agency_id)
    return {"Authorization": f"Bearer {token}"}


def test_stats_for_all_and_for_one_agency(runtime: Any, client: Any) -> None:
    seed_tickets(runtime)
    everything = client.get("/api/v1/stats", headers=_token(runtime)).get_json()
    assert everything["total"] == 6 and everything["resolved_within_deadline_share"] == 0.5
    scoped = _token(runtime, "dpupr")
    own = client.get("/api/v1/stats", headers=scoped).get_json()
    assert own["total"] == 2
    assert client.get("/api/v1/stats?agency=dlh", headers=scoped).status_code == 403
    assert client.get("/api/v1/stats?agency=nope", headers=_token(runtime)).status_code == 404
    period = client.get("/api/v1/stats?since=2026-11-01T00:00:00Z", headers=_token(runtime)).get_json()
    assert period["total"] == 5
    assert client.get("/api/v1/stats?since=soon", headers=_token(runtime)).status_code == 400
    assert client.get("/api/v1/stats?x=1", headers=_token(runtime)).status_code == 400
    assert client.get("/api/v1/stats").status_code == 401


def test_agencies_and_categories(runtime: Any, client: Any) -> None:
    headers = _token(runtime)
    agencies = client.get("/api/v1/agencies", headers=headers).get_json()["agencies"]
    assert any(a["code"] == "diskominfo" and a["coordinator"] for a in agencies)
    categories = client.get("/api/v1/categories", headers=headers).get_json()["categories"]
    jalan = next(c for c in categories if c["code"] == "jalan")
    assert jalan["name"] == {"id": "Jalan rusak", "en": "Damaged roads"}
    assert jalan["deadlines"]["follow_up"] == 5
    assert client.get("/api/v1/agencies?x=1", headers=headers).status_code == 400


def test_openapi_document_lists_every_api_route(app: Any, client: Any) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    routes = {
        rule.rule.removeprefix("/api/v1").replace("<", "{").replace(">", "}")
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.")
    }
    assert routes == set(document["paths"])
