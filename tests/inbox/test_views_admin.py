"""Dashboard figures, the audit log and the admin pages."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from gateway.store.models import AuditEntry, CannedResponse, Operator
from tests.inbox.conftest import World


def test_dashboard_counts_per_agency_and_channel(as_coordinator: Any, as_dpupr: Any, world: World) -> None:
    as_dpupr.post(
        f"/inbox/t/{world.dpupr_ticket}/action", data={"action": "resolve", "note": "Sudah ditambal."}
    )
    html = as_coordinator.get("/inbox/dashboard").get_data(as_text=True)
    assert "4 laporan, 1 selesai, 3 dalam proses" in html
    assert "Dinas Pekerjaan Umum" in html and "WhatsApp" in html
    # An agency operator sees their agency's figures only.
    own = as_dpupr.get("/inbox/dashboard").get_data(as_text=True)
    assert "2 laporan, 1 selesai, 1 dalam proses" in own and "Dinas Lingkungan Hidup" not in own


def test_dashboard_period_excludes_older_tickets(as_coordinator: Any, world: World) -> None:
    html = as_coordinator.get("/inbox/dashboard?since=2020-01-01&until=2020-01-31").get_data(as_text=True)
    assert "0 laporan" in html
    # A date that is no date is said, not silently replaced by the default period.
    bad = as_coordinator.get("/inbox/dashboard?since=nonsense")
    assert bad.status_code == 400 and "nonsense" in bad.get_data(as_text=True)


def test_audit_log_lists_and_filters_actions(as_admin: Any, as_dpupr: Any, world: World) -> None:
    as_dpupr.post(f"/inbox/t/{world.dpupr_ticket}/note", data={"text": "cek"})
    html = as_admin.get(f"/inbox/admin/audit?operator={world.dpupr}").get_data(as_text=True)
    assert "ticket.note" in html and f"#{world.dpupr_ticket}" in html
    assert "ticket.note" not in as_admin.get(f"/inbox/admin/audit?operator={world.admin}").get_data(
        as_text=True
    )
    assert "ticket.note" in as_admin.get(f"/inbox/admin/audit?tracking={world.dpupr_ticket}").get_data(
        as_text=True
    )


def test_admin_creates_an_operator_who_can_log_in(
    as_admin: Any, app: Any, world: World, runtime: Any
) -> None:
    with runtime.db.session() as session:
        dlh = session.get(Operator, world.dlh).agency_id
    data = {
        "email": "baru@example.id",
        "name": "Operator Baru",
        "password": "panjang-sekali-123",
        "role": "agency",
        "agency": str(dlh),
        "language": "id",
    }
    assert as_admin.post("/inbox/admin/operators", data={**data, "agency": ""}).status_code == 400
    assert as_admin.post("/inbox/admin/operators", data={**data, "password": "short"}).status_code == 400
    assert as_admin.post("/inbox/admin/operators", data=data).status_code == 302
    assert as_admin.post("/inbox/admin/operators", data=data).status_code == 400  # email taken
    client = app.test_client()
    assert (
        client.post(
            "/inbox/login", data={"email": "baru@example.id", "password": data["password"]}
        ).status_code
        == 302
    )
    with runtime.db.session() as session:
        row = session.scalar(select(Operator).where(Operator.email == "baru@example.id"))
        assert row is not None and row.password_hash.startswith("$argon2id$")
        assert (
            session.scalar(select(AuditEntry).where(AuditEntry.action == "admin.operator_create")) is not None
        )


def test_admin_manages_canned_responses(as_admin: Any, world: World, runtime: Any) -> None:
    assert (
        as_admin.post(
            "/inbox/admin/canned", data={"code": "Bad Code!", "title": "x", "text": "y"}
        ).status_code
        == 400
    )
    assert (
        as_admin.post(
            "/inbox/admin/canned",
            data={"code": "terima", "title": "Terima kasih", "text": "Terima kasih.", "language": "id"},
        ).status_code
        == 302
    )
    with runtime.db.session() as session:
        row = session.scalar(select(CannedResponse).where(CannedResponse.code == "terima"))
        assert row is not None
        canned_id = row.id
    assert "/terima" in as_admin.get("/inbox/admin/canned").get_data(as_text=True)
    as_admin.post(f"/inbox/admin/canned/{canned_id}/delete")
    with runtime.db.session() as session:
        assert session.get(CannedResponse, canned_id) is None


def test_admin_renames_and_deactivates_an_agency(as_admin: Any, world: World, runtime: Any) -> None:
    from gateway.store.models import Agency

    with runtime.db.session() as session:
        dinsos = session.scalar(select(Agency).where(Agency.code == "dinsos"))
        coordinator = session.scalar(select(Agency).where(Agency.is_coordinator.is_(True)))
        ids = (dinsos.id, coordinator.id)
    as_admin.post("/inbox/admin/agencies", data={"agency_id": str(ids[0]), "name": "Dinas Sosial Kota"})
    as_admin.post("/inbox/admin/agencies", data={"agency_id": str(ids[1]), "name": "Kominfo"})
    with runtime.db.session() as session:
        assert (
            not session.get(Agency, ids[0]).active and session.get(Agency, ids[0]).name == "Dinas Sosial Kota"
        )
        assert session.get(Agency, ids[1]).active
    html = as_admin.get("/inbox/admin/agencies").get_data(as_text=True)
    assert re.search(r"Dinas Sosial Kota", html)
