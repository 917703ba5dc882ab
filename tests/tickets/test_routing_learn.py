"""Learning from the coordinator: dispositions train a model that is blended with the rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import select

from conversations.routing import recommend
from conversations.routing_score import score
from gateway.cli import main
from gateway.routing.learn import learned_probabilities, model_path, save, train, training_cases
from gateway.store.models import Ticket
from gateway.tickets.service import transition
from tests.catalogue import catalogue_config

DEV = Path(__file__).parent.parent / "data" / "routing" / "dev.jsonl"


def test_a_new_deployment_routes_by_rules_alone(runtime: Any) -> None:
    out = CliRunner().invoke(main, ["routing", "train"], env=dict(runtime.settings.env))
    assert out.exit_code == 0, out.output
    assert "rules alone" in out.output
    assert not model_path(runtime).exists()
    assert learned_probabilities(runtime, "jalan rusak") is None


def test_the_coordinators_dispositions_teach_a_model_that_is_blended_in(
    runtime: Any, make_ticket: Any, coordinator: Any
) -> None:
    cases = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    trackings = [(make_ticket(description=c["text"], category=None), c["agency"]) for c in cases]
    with runtime.db.session() as session:
        for tracking, agency in trackings:
            ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
            transition(session, runtime, ticket, "dispose", coordinator, agency=agency)
    with runtime.db.session() as session:
        learned_from = training_cases(session)
    assert len(learned_from) == len(cases)
    assert {agency for _, agency in learned_from} == {c["agency"] for c in cases}

    assert train(learned_from, min_cases=len(cases) + 1) is None  # too few: rules alone
    learned = train(learned_from, min_cases=10)
    assert learned is not None
    save(learned, model_path(runtime))
    probs = learned_probabilities(runtime, "sertifikat tanah PTSL belum jadi dari BPN")
    assert probs is not None and abs(sum(probs.values()) - 1) < 1e-6
    assert max(probs, key=lambda code: probs[code]) == "bpn"

    # A new complaint now carries the model's view next to the rules'.
    tracking = make_ticket(description="air PDAM tidak mengalir sejak kemarin", category="air")
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
        top = ticket.data["routing"]["suggestions"][0]
        assert top["agency"] == "pdam" and top["learned"] > 0
        assert ticket.agency.code == "pdam"


def test_a_city_difference_learned_from_dispositions_wins_over_the_catalogue() -> None:
    config = catalogue_config()
    catalog = config.catalog
    scoring = score(config, "saluran drainase mampet, air meluap ke rumah")
    by_rules = recommend(scoring, None, catalog.agencies, catalog.categories, 0.45)
    assert by_rules.decision.agency_code == "dpupr"
    # This city's coordinator always sends drainage to Perkim.
    learned = {"perkim": 0.95, "dpupr": 0.05}
    blended = recommend(
        scoring, None, catalog.agencies, catalog.categories, 0.45, learned=learned, learned_weight=0.5
    )
    assert blended.routed and blended.decision.agency_code == "perkim"
    assert blended.suggestions[0]["agency"] == "perkim" and blended.suggestions[0]["learned"] == 0.95
    # The model never sends anything to a body outside regional authority by itself.
    outside = recommend(
        score(config, "listrik padam"),
        None,
        catalog.agencies,
        catalog.categories,
        0.45,
        learned={"pln": 1.0},
        learned_weight=1,
    )
    assert not outside.routed and outside.decision.agency_code == "diskominfo"
