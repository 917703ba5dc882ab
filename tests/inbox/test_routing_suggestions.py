"""The coordinator sees the router's ranked suggestions on a ticket; agencies do not."""

from __future__ import annotations

from typing import Any

from tests.inbox.conftest import World


def test_the_coordinator_sees_ranked_suggestions_with_confidence_and_words(
    as_coordinator: Any, world: World
) -> None:
    page = as_coordinator.get(f"/inbox/t/{world.unverified_ticket}").get_data(as_text=True)
    assert "Saran OPD" in page
    assert 'data-suggestion="dishub"' in page and "Dinas Perhubungan" in page
    assert "% · lampu" in page  # confidence and the deciding words


def test_an_agency_does_not_see_the_routers_suggestions(as_dpupr: Any, world: World) -> None:
    page = as_dpupr.get(f"/inbox/t/{world.dpupr_ticket}").get_data(as_text=True)
    assert "Saran OPD" not in page and "data-suggestion" not in page
