"""The ticket list as operators use it all day: finding a caller by number, returned tickets."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from gateway.tickets import service
from tests.inbox.conftest import World


def _trackings(page: str) -> set[str]:
    return set(re.findall(r'data-tracking="(\d+)"', page))


@pytest.mark.parametrize("typed", ["081234567890", "+6281234567890", "62 812-3456-7890", "0812 3456 7890"])
def test_city_staff_find_a_ticket_by_the_callers_number(
    as_coordinator: Any, world: World, typed: str
) -> None:
    page = as_coordinator.get("/inbox/tickets", query_string={"tab": "all", "q": typed}).get_data(
        as_text=True
    )
    # The number +6281234567890 filed world.dpupr_ticket (anonymous; the coordinator sees reporters).
    assert world.dpupr_ticket in _trackings(page)
    assert world.dlh_ticket not in _trackings(page)


def test_a_number_finds_only_that_callers_tickets(as_coordinator: Any, world: World) -> None:
    """Typed in the local form, the number matches the WhatsApp address stored as +62..."""
    page = as_coordinator.get("/inbox/tickets", query_string={"tab": "all", "q": "081300000003"})
    assert _trackings(page.get_data(as_text=True)) == {world.public_ticket}


def test_an_agency_finds_a_public_reporter_by_number_but_never_an_anonymous_one(
    as_dpupr: Any, world: World
) -> None:
    public = as_dpupr.get("/inbox/tickets", query_string={"tab": "all", "q": "081300000003"})
    assert _trackings(public.get_data(as_text=True)) == {world.public_ticket}
    anonymous = as_dpupr.get("/inbox/tickets", query_string={"tab": "all", "q": "081234567890"})
    assert world.dpupr_ticket not in _trackings(anonymous.get_data(as_text=True))
    export = as_dpupr.get("/inbox/tickets/export.csv", query_string={"tab": "all", "q": "+6281234567890"})
    assert world.dpupr_ticket not in export.get_data(as_text=True)


def test_a_ticket_returned_by_an_agency_has_its_tab_flag_and_reason(
    as_dpupr: Any, as_coordinator: Any, world: World
) -> None:
    reason = "Ini kewenangan Dinas Perhubungan, bukan PU."
    answer = as_dpupr.post(
        f"/inbox/t/{world.dpupr_ticket}/action", data={"action": "not_our_authority", "note": reason}
    )
    assert answer.status_code == 302
    page = html.unescape(
        as_coordinator.get("/inbox/tickets", query_string={"tab": "returned"}).get_data(as_text=True)
    )
    assert _trackings(page) == {world.dpupr_ticket}
    assert "Dikembalikan OPD" in page and "Dikembalikan DPUPR" in page and reason in page
    # The other unverified ticket was never returned: it is not in the tab, and is not flagged.
    unverified = html.unescape(
        as_coordinator.get("/inbox/tickets", query_string={"tab": "unverified"}).get_data(as_text=True)
    )
    assert {world.dpupr_ticket, world.unverified_ticket} <= _trackings(unverified)
    assert unverified.count("badge-returned") == 1
    # Agencies do not get the tab.
    assert 'data-tab="returned"' not in as_dpupr.get("/inbox/tickets").get_data(as_text=True)


def test_a_returned_ticket_dispatched_again_leaves_the_tab(
    as_coordinator: Any, world: World, runtime: Any
) -> None:
    with runtime.db.session() as session:
        ticket = service.find_ticket(session, service.Actor.system(), world.dpupr_ticket)
        assert ticket is not None
        actor = service.Actor(kind="operator", id=world.dpupr, role="agency", agency_id=ticket.agency_id)
        service.transition(session, runtime, ticket, "not_our_authority", actor, note="Bukan kami")
        service.transition(session, runtime, ticket, "dispose", service.Actor.system(), agency="dlh")
    page = as_coordinator.get("/inbox/tickets", query_string={"tab": "returned"}).get_data(as_text=True)
    assert _trackings(page) == set()


def _href(page: str, css_class: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" class="{css_class}"', page)
    return html.unescape(found.group(1)) if found else None


def test_the_back_link_keeps_the_list_and_next_goes_through_it(as_coordinator: Any, world: World) -> None:
    listing = as_coordinator.get("/inbox/tickets", query_string={"tab": "all", "q": "jalan"}).get_data(
        as_text=True
    )
    order = re.findall(r'data-tracking="(\d+)"', listing)
    assert len(order) >= 2
    link = html.unescape(re.search(rf'href="(/inbox/t/{order[0]}[^"]*)"', listing).group(1))
    assert "tab=all" in link and "q=jalan" in link
    page = as_coordinator.get(link).get_data(as_text=True)
    back = _href(page, "back")
    assert back is not None and back.startswith("/inbox/tickets?") and "tab=all" in back and "q=jalan" in back
    following = _href(page, "next")
    assert following is not None and following.startswith(f"/inbox/t/{order[1]}?") and "q=jalan" in following
    last = as_coordinator.get(f"/inbox/t/{order[-1]}", query_string={"tab": "all", "q": "jalan"})
    assert _href(last.get_data(as_text=True), "next") is None


def test_an_action_returns_to_the_ticket_with_the_list_kept(as_coordinator: Any, world: World) -> None:
    answer = as_coordinator.post(
        f"/inbox/t/{world.unverified_ticket}/note?tab=unverified&page=1", data={"text": "Cek dulu"}
    )
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith(f"/inbox/t/{world.unverified_ticket}?tab=unverified#outcome")
