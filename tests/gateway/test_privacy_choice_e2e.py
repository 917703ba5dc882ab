"""Whether the citizen chose a ticket's privacy is recorded as it happened (ARCHITECTURE.md:
"a ticket whose citizen did not choose is anonymous").

Through the real webhook and worker: the conversation's CreateTicket effect says whether the
citizen answered the privacy question, and the ticket keeps exactly that.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from gateway.store.models import Ticket
from tests.gateway.test_conversation_e2e import Citizen


def _ticket(runtime: Any, filed: str) -> Ticket:
    match = re.search(r"#(\d{8})", filed)
    assert match, filed
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == match.group(1)))
        assert ticket is not None
        session.expunge(ticket)
        return ticket


def test_a_citizen_who_never_answers_the_privacy_question_files_an_anonymous_unchosen_ticket(
    client: Any, runtime: Any, drain: Any
) -> None:
    citizen = Citizen(client, runtime, drain, "sms", "081234567501")
    # The one-shot form: the privacy question is never asked, the summary comes at once.
    summary = citizen.says(
        "LAPOR#jalan#Jl. Merdeka no 10, Kec. Sukamaju#Jalan berlubang besar sudah dua bulan"
    )
    assert "YA" in summary
    ticket = _ticket(runtime, citizen.says("YA"))
    assert ticket.privacy == "anonymous"
    assert ticket.privacy_chosen is False


def test_a_citizen_who_answers_beside_the_privacy_question_twice_did_not_choose(
    client: Any, runtime: Any, drain: Any
) -> None:
    citizen = Citizen(client, runtime, drain, "telegram", "700000501")
    citizen.says("Jalan berlubang besar di depan SDN 3 Sukamaju, sudah dua bulan")
    asked = citizen.says("Jl. Merdeka no 10, Kec. Sukamaju")
    assert "identitas" in asked.lower()
    citizen.says("entahlah")
    summary = citizen.says("terserah saja")  # a second unplaceable answer: the default, not a choice
    assert "YA" in summary
    ticket = _ticket(runtime, citizen.says("YA"))
    assert ticket.privacy == "anonymous"
    assert ticket.privacy_chosen is False


def test_a_citizen_who_chooses_public_gets_a_public_chosen_ticket(
    client: Any, runtime: Any, drain: Any
) -> None:
    citizen = Citizen(client, runtime, drain, "telegram", "700000502")
    citizen.says("Jalan berlubang besar di depan SDN 3 Sukamaju, sudah dua bulan")
    citizen.says("Jl. Merdeka no 10, Kec. Sukamaju")
    citizen.says("BIASA")
    ticket = _ticket(runtime, citizen.says("YA"))
    assert ticket.privacy == "public"
    assert ticket.privacy_chosen is True


def test_an_emergency_filed_confidential_by_the_rule_stays_confidential_though_not_chosen(
    client: Any, runtime: Any, drain: Any
) -> None:
    """The rule tightens (never loosens) what the citizen did not choose."""
    citizen = Citizen(client, runtime, drain, "telegram", "700000503")
    text = citizen.says("tolong suami saya memukuli saya setiap malam di Jl. Merdeka no 10, Kec. Sukamaju")
    assert "Pilih kategori" in text  # the privacy question is skipped: the rule chose
    text = citizen.says("lainnya")
    assert "RAHASIA" in text
    ticket = _ticket(runtime, citizen.says("YA"))
    assert ticket.privacy == "confidential"
    assert ticket.privacy_chosen is False
