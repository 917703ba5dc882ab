"""The list's filters, search, paging and the CSV export's safety against formula injection."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from gateway.web.inbox.views_list import safe_cell
from tests.inbox.conftest import World, file_ticket


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://evil","klik")', '\'=HYPERLINK("http://evil","klik")'),
        ("+62812", "'+62812"),
        ("-1+1", "'-1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("Jalan rusak = bahaya", "Jalan rusak = bahaya"),
        ("", ""),
        (None, ""),
        (12, "12"),
    ],
)
def test_safe_cell(value: Any, expected: str) -> None:
    assert safe_cell(value) == expected


def test_export_neutralises_formulas_written_by_citizens(
    as_coordinator: Any, world: World, runtime: Any
) -> None:
    with runtime.db.session() as session:
        file_ticket(session, runtime, text='=cmd|" /C calc"!A0 jalan rusak', category="jalan", address=None)
    response = as_coordinator.get("/inbox/tickets/export.csv?tab=all")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][0] == "Nomor"
    descriptions = [r[-1] for r in rows[1:]]
    assert '\'=cmd|" /C calc"!A0 jalan rusak' in descriptions
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_search_by_text_and_by_tracking_number(as_coordinator: Any, world: World) -> None:
    page = as_coordinator.get("/inbox/tickets?tab=all&q=TPS+pasar").get_data(as_text=True)
    assert f"/inbox/t/{world.dlh_ticket}" in page and f"/inbox/t/{world.dpupr_ticket}" not in page
    page = as_coordinator.get(f"/inbox/tickets?tab=all&q={world.dpupr_ticket}").get_data(as_text=True)
    assert f"/inbox/t/{world.dpupr_ticket}" in page and f"/inbox/t/{world.dlh_ticket}" not in page
    # LIKE wildcards typed by an operator are literal.
    page = as_coordinator.get("/inbox/tickets?tab=all&q=%25").get_data(as_text=True)
    assert "/inbox/t/" not in page


def test_filters_by_status_agency_category_and_assignment(as_coordinator: Any, world: World) -> None:
    def shown(query: str) -> set[str]:
        html = as_coordinator.get(f"/inbox/tickets?{query}").get_data(as_text=True)
        return {
            t
            for t in (world.dpupr_ticket, world.dlh_ticket, world.unverified_ticket, world.public_ticket)
            if f"/inbox/t/{t}" in html
        }

    assert shown("tab=unverified") == {world.unverified_ticket}
    # Routing already points the street-light ticket at DPUPR; the coordinator sees that.
    assert shown("tab=all&agency=dpupr") == {world.dpupr_ticket, world.public_ticket}
    # Street lighting belongs to Dishub in the tests' catalogue (tests/data/catalogue/agencies.yaml).
    assert shown("tab=all&agency=dishub") == {world.unverified_ticket}
    assert shown("tab=all&category=sampah") == {world.dlh_ticket}
    assert shown("tab=mine") == set()
    as_coordinator.post(f"/inbox/t/{world.dlh_ticket}/assign", data={"operator_id": str(world.coordinator)})
    assert shown("tab=mine") == {world.dlh_ticket}
    assert world.dlh_ticket not in shown("tab=unassigned")
    assert shown("tab=bogus") == shown("tab=open")


def test_paging(as_coordinator: Any, world: World, runtime: Any) -> None:
    with runtime.db.session() as session:
        for i in range(26):
            file_ticket(
                session, runtime, text=f"Keluhan nomor {i} tentang jalan", category="jalan", address=None
            )
    first = as_coordinator.get("/inbox/tickets?tab=all").get_data(as_text=True)
    assert "Halaman 1 dari 2" in first and first.count('class="tracking"') == 25
    second = as_coordinator.get("/inbox/tickets?tab=all&page=2").get_data(as_text=True)
    assert second.count('class="tracking"') == 5
    # Newest activity first: the last filed is at the top of page 1.
    assert first.index("Keluhan nomor 25") < first.index("Keluhan nomor 24")


def test_fragment_marks_tickets_with_new_citizen_messages(as_coordinator: Any, world: World) -> None:
    html = as_coordinator.get("/inbox/tickets/fragment?tab=all").get_data(as_text=True)
    assert "<html" not in html and 'class="tabs"' in html
    assert f'data-tracking="{world.unverified_ticket}"' in html and 'class="dot"' in html
