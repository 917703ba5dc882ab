"""The agency boundary: an agency operator reaches nothing outside their agency, by any route.

Every route answers 404 (not 403) for a ticket of another agency, the same as
for a number that does not exist, so nobody can probe for tracking numbers.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.store.models import AuditEntry, Message, Ticket, TicketEvent
from tests.inbox.conftest import World


def _count(runtime: Any, model: Any) -> int:
    with runtime.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.parametrize("suffix", ["", "/timeline"])
def test_agency_operator_gets_404_for_another_agencys_ticket_by_url(
    as_dpupr: Any, world: World, suffix: str
) -> None:
    assert as_dpupr.get(f"/inbox/t/{world.dpupr_ticket}{suffix}").status_code == 200
    assert as_dpupr.get(f"/inbox/t/{world.dlh_ticket}{suffix}").status_code == 404
    assert as_dpupr.get(f"/inbox/t/%23{world.dlh_ticket}{suffix}").status_code == 404


def test_agency_operator_does_not_see_tickets_still_waiting_for_verification(
    as_dpupr: Any, world: World
) -> None:
    """Routing may already point at DPUPR, but until the coordinator disposes it the agency sees nothing."""
    assert as_dpupr.get(f"/inbox/t/{world.unverified_ticket}").status_code == 404


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("reply", {"text": "Kami akan segera perbaiki", "nonce": "x1"}),
        ("note", {"text": "catatan"}),
        ("action", {"action": "start"}),
        ("action", {"action": "resolve", "note": "Sudah diperbaiki"}),
        ("action", {"action": "not_our_authority", "note": "bukan kami"}),
        ("assign", {"operator_id": "1"}),
        ("category", {"category": "jalan"}),
        ("privacy", {"privacy": "confidential"}),
    ],
)
def test_agency_operator_gets_404_for_another_agencys_ticket_by_form_post(
    as_dpupr: Any, world: World, runtime: Any, path: str, data: dict[str, str]
) -> None:
    before = (_count(runtime, Message), _count(runtime, TicketEvent))
    response = as_dpupr.post(f"/inbox/t/{world.dlh_ticket}/{path}", data=data)
    assert response.status_code == 404
    assert (_count(runtime, Message), _count(runtime, TicketEvent)) == before
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == world.dlh_ticket))
        assert ticket is not None and ticket.status == "dispatched" and ticket.category == "sampah"


def test_list_fragment_and_search_show_only_the_agencys_tickets(as_dpupr: Any, world: World) -> None:
    for url in ("/inbox/tickets?tab=all", "/inbox/tickets/fragment?tab=all"):
        page = as_dpupr.get(url).get_data(as_text=True)
        assert world.dpupr_ticket in page and world.public_ticket in page
        assert world.dlh_ticket not in page and world.unverified_ticket not in page
    found = as_dpupr.get(f"/inbox/tickets?tab=all&q=%23{world.dlh_ticket}").get_data(as_text=True)
    assert f"/inbox/t/{world.dlh_ticket}" not in found
    own = as_dpupr.get(f"/inbox/tickets?tab=all&q=%23{world.dpupr_ticket}").get_data(as_text=True)
    assert f"/inbox/t/{world.dpupr_ticket}" in own and f"/inbox/t/{world.public_ticket}" not in own
    assert "Sampah menumpuk" not in as_dpupr.get("/inbox/tickets?tab=all&q=sampah").get_data(as_text=True)


def test_tab_counts_count_only_visible_tickets(as_dpupr: Any, as_coordinator: Any, world: World) -> None:
    import re

    def count(client: Any, tab: str) -> int:
        html = client.get("/inbox/tickets").get_data(as_text=True)
        match = re.search(rf'data-tab="{tab}">.*?<span class="count">(\d+)</span>', html, re.S)
        assert match, tab
        return int(match.group(1))

    assert count(as_dpupr, "all") == 2
    assert count(as_dpupr, "unverified") == 0
    assert count(as_coordinator, "all") == 4
    assert count(as_coordinator, "unverified") == 1


def test_agency_filter_in_the_url_cannot_widen_an_agency_operators_view(as_dpupr: Any, world: World) -> None:
    page = as_dpupr.get("/inbox/tickets?tab=all&agency=dlh").get_data(as_text=True)
    assert world.dlh_ticket not in page


def test_export_holds_only_the_agencys_tickets(as_dpupr: Any, world: World) -> None:
    body = as_dpupr.get("/inbox/tickets/export.csv?tab=all&agency=dlh").get_data(as_text=True)
    assert world.dlh_ticket not in body
    body = as_dpupr.get("/inbox/tickets/export.csv?tab=all").get_data(as_text=True)
    assert world.dpupr_ticket in body and world.dlh_ticket not in body and world.unverified_ticket not in body


def test_api_token_of_an_agency_gets_404_for_another_agencys_ticket(
    app: Any, runtime: Any, world: World
) -> None:
    from gateway.store.models import Agency
    from gateway.web.api.auth import create_token

    with runtime.db.session() as session:
        agency = session.scalar(select(Agency).where(Agency.code == "dpupr"))
        _row, token = create_token(session, "opd-pu", agency_id=agency.id)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/api/v1/tickets/{world.dpupr_ticket}", headers=headers).status_code == 200
    assert client.get(f"/api/v1/tickets/{world.dlh_ticket}", headers=headers).status_code == 404
    listed = client.get("/api/v1/tickets", headers=headers).get_json()
    assert world.dlh_ticket not in {t["tracking"] for t in listed["tickets"]}


PHOTO = "abc123" + "0" * 26 + ".jpg"


def test_media_of_another_agencys_ticket_is_404(
    as_dpupr: Any, as_dlh: Any, world: World, runtime: Any
) -> None:
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == world.dlh_ticket))
        runtime.settings.media_dir.mkdir(parents=True, exist_ok=True)
        (runtime.settings.media_dir / PHOTO).write_bytes(b"\xff\xd8\xff\xe0fakejpeg")
        message = Message(
            direction="in",
            channel="whatsapp",
            address="whatsapp:+6281300000001",
            ticket_id=ticket.id,
            kind="image",
            text="foto",
            attachments=[{"kind": "image", "content_type": "image/jpeg", "stored_path": PHOTO}],
        )
        session.add(message)
        session.flush()
        message_id = message.id
    assert as_dlh.get(f"/inbox/media/{message_id}/0").status_code == 200
    assert as_dpupr.get(f"/inbox/media/{message_id}/0").status_code == 404
    assert as_dlh.get(f"/inbox/media/{message_id}/5").status_code == 404


def test_anonymous_reporter_is_hidden_from_the_agency_but_not_the_coordinator(
    as_dpupr: Any, as_coordinator: Any, world: World
) -> None:
    agency_view = as_dpupr.get(f"/inbox/t/{world.dpupr_ticket}").get_data(as_text=True)
    assert "Pelapor anonim" in agency_view
    assert "6281234567890" not in agency_view and "Siti Warga" not in agency_view
    coordinator_view = as_coordinator.get(f"/inbox/t/{world.dpupr_ticket}").get_data(as_text=True)
    assert "Siti Warga" in coordinator_view
    public_view = as_dpupr.get(f"/inbox/t/{world.public_ticket}").get_data(as_text=True)
    assert "Pelapor anonim" not in public_view
    export = as_dpupr.get("/inbox/tickets/export.csv?tab=all").get_data(as_text=True)
    assert "6281234567890" not in export and "Pelapor anonim" in export


def test_admin_pages_are_forbidden_to_other_roles(as_coordinator: Any, as_dpupr: Any, world: World) -> None:
    for client in (as_coordinator, as_dpupr):
        for url in (
            "/inbox/admin/audit",
            "/inbox/admin/operators",
            "/inbox/admin/canned",
            "/inbox/admin/agencies",
        ):
            assert client.get(url).status_code == 403
        assert (
            client.post("/inbox/admin/canned", data={"code": "x", "title": "x", "text": "x"}).status_code
            == 403
        )


def test_pages_need_login(client: Any, world: World) -> None:
    for url in (
        "/inbox/tickets",
        f"/inbox/t/{world.dpupr_ticket}",
        "/inbox/dashboard",
        "/inbox/tickets/export.csv",
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/inbox/login" in response.headers["Location"]
    assert client.post(f"/inbox/t/{world.dpupr_ticket}/reply", data={"text": "x"}).status_code == 302


def test_viewing_a_confidential_ticket_is_audited(as_coordinator: Any, world: World, runtime: Any) -> None:
    assert (
        as_coordinator.post(
            f"/inbox/t/{world.dpupr_ticket}/privacy", data={"privacy": "confidential"}
        ).status_code
        == 302
    )
    as_coordinator.get(f"/inbox/t/{world.dpupr_ticket}")
    as_coordinator.get(f"/inbox/t/{world.public_ticket}")
    with runtime.db.session() as session:
        views = session.scalars(select(AuditEntry).where(AuditEntry.action == "ticket.view")).all()
        assert len(views) == 1
        assert views[0].operator_id == world.coordinator
        ticket = session.get(Ticket, views[0].ticket_id)
        assert ticket is not None and ticket.tracking == world.dpupr_ticket
