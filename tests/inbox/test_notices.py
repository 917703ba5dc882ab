"""Being told: the unread count in the menu and the title, the "due today" and "overdue" view,
and the warning that another operator is on (or has just answered) the same ticket."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from gateway.store.models import Ticket
from gateway.tickets import policy
from tests.inbox.conftest import World, login


def _set(runtime: Any, tracking: str, **values: Any) -> None:
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
        assert ticket is not None
        for key, value in values.items():
            setattr(ticket, key, value)


def test_unread_count_in_the_menu_and_the_title(as_dpupr: Any, world: World, runtime: Any) -> None:
    _set(runtime, world.dpupr_ticket, has_unread=True)
    _set(runtime, world.public_ticket, has_unread=True)
    _set(runtime, world.dlh_ticket, has_unread=True)  # another agency's: not counted
    page = as_dpupr.get("/inbox/tickets").get_data(as_text=True)
    assert re.search(r"<title>\(2\) ", page)
    assert re.search(r"data-unread[^>]*>\s*2\s*<", page)
    assert as_dpupr.get("/inbox/notices.json").get_json() == {"unread": 2}
    _set(runtime, world.public_ticket, has_unread=False)
    assert as_dpupr.get("/inbox/notices.json").get_json() == {"unread": 1}


def test_today_view_lists_due_today_and_overdue_within_the_agency(
    as_dpupr: Any, world: World, runtime: Any
) -> None:
    today = policy.today(runtime)
    _set(runtime, world.dpupr_ticket, deadline=today)
    _set(runtime, world.public_ticket, deadline=today - timedelta(days=3), overdue=True)
    _set(runtime, world.dlh_ticket, deadline=today)  # another agency's
    page = as_dpupr.get("/inbox/today")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    due, _, late = text.partition('id="overdue"')
    assert world.dpupr_ticket in due and world.public_ticket not in due
    assert world.public_ticket in late
    assert world.dlh_ticket not in text


def test_presence_warns_of_another_operator_typing_and_answering(
    app: Any, world: World, runtime: Any
) -> None:
    putu, pandu = app.test_client(), app.test_client()
    login(putu, "pu@example.id")
    login(pandu, "pu2@example.id")
    url = f"/inbox/t/{world.dpupr_ticket}/presence"
    since = putu.post(url, data={"typing": "0"}).get_json()["now"]
    alone = putu.post(url, data={"typing": "0", "since": since}).get_json()
    assert alone["others"] == [] and alone["answered"] == []
    pandu.post(url, data={"typing": "1"})
    seen = putu.post(url, data={"typing": "0", "since": since}).get_json()
    assert seen["others"] == [{"name": "Pandu PU", "typing": True}]
    assert "Pandu PU" in seen["html"]
    pandu.post(f"/inbox/t/{world.dpupr_ticket}/reply", data={"text": "Sudah kami tangani.", "nonce": "p-1"})
    answered = putu.post(url, data={"typing": "0", "since": since}).get_json()
    assert [a["name"] for a in answered["answered"]] == ["Pandu PU (DPUPR)"]


def test_presence_is_behind_the_agency_boundary(as_dlh: Any, world: World) -> None:
    assert as_dlh.post(f"/inbox/t/{world.dpupr_ticket}/presence", data={"typing": "1"}).status_code == 404


def test_the_thread_page_carries_the_presence_region(as_dpupr: Any, world: World) -> None:
    page = as_dpupr.get(f"/inbox/t/{world.dpupr_ticket}").get_data(as_text=True)
    assert f'data-presence="/inbox/t/{world.dpupr_ticket}/presence"' in page
    assert "inbox_notices.js" in page
