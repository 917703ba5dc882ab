"""Merging a duplicate into the original (issue 20, part 1): who may, into what, and what each keeps."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from conversations.lifecycle import TransitionRefused
from gateway.store.models import Message, Ticket, TicketSupporter
from gateway.tickets import satisfaction, supporters
from gateway.tickets.service import transition
from tests.tickets.conftest import operator_actor


def _load(session: Any, tracking: str) -> Ticket:
    ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
    assert ticket is not None
    return ticket


def test_each_supporter_keeps_their_privacy_and_the_original_keeps_its_own(
    runtime: Any, make_ticket: Any
) -> None:
    coordinator = operator_actor(runtime, "coordinator", "diskominfo")
    original = make_ticket(privacy="public", privacy_chosen=True)
    duplicate = make_ticket(
        privacy="confidential", privacy_chosen=True, channel="sms", address="tel:+6281234500001"
    )
    with runtime.db.session() as session:
        supporters.merge(session, runtime, _load(session, duplicate), _load(session, original), coordinator)
    with runtime.db.session() as session:
        kept = _load(session, original)
        assert kept.privacy == "public" and kept.data["supporters"] == 1
        [row] = session.scalars(select(TicketSupporter)).all()
        assert (row.privacy, row.channel, row.address) == ("confidential", "sms", "tel:+6281234500001")
        archived = _load(session, duplicate)
        assert archived.status == "archived" and satisfaction.archived_as_duplicate(archived)
        # Told once that it joined the original; no "archived" notice.
        told = session.scalars(select(Message.text).where(Message.ticket_id == archived.id)).all()
        assert len(told) == 1 and f"#{kept.tracking}" in told[0]


def test_only_the_coordinator_merges_and_never_into_itself_or_an_archived_ticket(
    runtime: Any, make_ticket: Any
) -> None:
    coordinator = operator_actor(runtime, "coordinator", "diskominfo")
    agency = operator_actor(runtime, "agency", "dpupr")
    first, second, third = make_ticket(), make_ticket(), make_ticket()
    with runtime.db.session() as session:
        with pytest.raises(TransitionRefused) as refused:
            supporters.merge(session, runtime, _load(session, first), _load(session, second), agency)
        assert refused.value.key == "merge_not_allowed"
        with pytest.raises(TransitionRefused) as refused:
            supporters.merge(session, runtime, _load(session, first), _load(session, first), coordinator)
        assert refused.value.key == "merge_same_ticket"
        transition(session, runtime, _load(session, third), "archive", coordinator, reason="too_general")
        with pytest.raises(TransitionRefused) as refused:
            supporters.merge(session, runtime, _load(session, first), _load(session, third), coordinator)
        assert refused.value.key == "merge_into_archived"


def test_a_merged_duplicate_reopened_and_resolved_is_never_asked_to_rate(
    runtime: Any, make_ticket: Any
) -> None:
    coordinator = operator_actor(runtime, "coordinator", "diskominfo")
    original, duplicate = make_ticket(), make_ticket()
    with runtime.db.session() as session:
        supporters.merge(session, runtime, _load(session, duplicate), _load(session, original), coordinator)
        ticket = _load(session, duplicate)
        transition(session, runtime, ticket, "reopen", coordinator)
        transition(session, runtime, ticket, "dispose", coordinator, agency="dpupr")
        transition(session, runtime, ticket, "resolve", coordinator, note="Sudah")
        assert ticket.status == "resolved"
        assert satisfaction.rating_of(session, ticket) is None
