"""Satisfaction after resolution and the right to escalate, end to end (issue 20, parts 2 and 2b).

Signed webhooks in, the real rq worker, replies out through the real client libraries to the
loopback providers; the operators act through the API and the inbox.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from gateway.store.models import Message, Ticket, TicketRating
from gateway.web.api.auth import create_token
from tests.inbox.conftest import login, make_operator
from tests.voice.citizen import Citizen

COMPLAINT = "Lampu jalan mati di gang mawar sudah seminggu, gelap sekali"
PLACE = "Gang Mawar, Kel. Sukajadi"


def _api(runtime: Any) -> dict[str, str]:
    with runtime.db.session() as session:
        _row, token = create_token(session, "city-system")
    return {"Authorization": f"Bearer {token}"}


def _resolve(client: Any, headers: dict[str, str], tracking: str) -> None:
    for body in (
        {"status": "dispatched", "agency": "dpupr"},
        {"status": "resolved", "note": "Lampu sudah diganti"},
    ):
        res = client.post(f"/api/v1/tickets/{tracking}/status", json=body, headers=headers)
        assert res.status_code == 200, res.get_json()


def _rating(runtime: Any, tracking: str) -> TicketRating:
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
        assert ticket is not None
        row = session.scalar(select(TicketRating).where(TicketRating.ticket_id == ticket.id))
        assert row is not None
        session.expunge_all()
        return row


def _status(runtime: Any, tracking: str) -> str:
    with runtime.db.session() as session:
        return str(session.scalar(select(Ticket.status).where(Ticket.tracking == tracking)))


CHANNELS = [("sms", "081234567301"), ("telegram", "700000302"), ("whatsapp", "+6281234567303")]


@pytest.mark.parametrize(("channel", "sender"), CHANNELS, ids=[c for c, _ in CHANNELS])
def test_the_citizen_is_asked_once_and_rates_with_a_digit_or_a_button(
    client: Any, runtime: Any, drain: Any, providers: dict[str, Any], channel: str, sender: str
) -> None:
    citizen = Citizen(client, runtime, drain, channel, sender)
    tracking = citizen.files(COMPLAINT, PLACE)
    headers = _api(runtime)
    citizen.reads()
    _resolve(client, headers, tracking)
    update = citizen.reads()
    resolved, question = update[-2], update[-1]
    assert "Lampu sudah diganti" in resolved.text
    assert f"#{tracking}" in question.text and "1" in question.text and "5" in question.text
    payloads = [b["payload"] for b in (question.payload or {}).get("buttons") or []]
    if channel == "sms":
        assert payloads == []  # a digit on SMS
        answer = citizen.says("4")
    else:
        assert payloads == [f"rate:{tracking}:{n}" for n in range(1, 6)]
        if channel == "telegram":
            sent = providers["telegram"].calls("sendMessage")
            keyboards = [
                json.dumps(c, default=str) for c in sent if f"rate:{tracking}:4" in json.dumps(c, default=str)
            ]
            assert keyboards, "the inline keyboard did not reach Telegram"
        else:
            lists = [
                m for m in providers["whatsapp"].sent_messages() if f"rate:{tracking}:4" in json.dumps(m)
            ]
            assert lists and lists[-1]["type"] == "interactive"
        answer = citizen.presses(f"rate:{tracking}:4", "4 Puas")
    assert any("nilai 4" in m.text for m in answer), [m.text for m in answer]
    assert _status(runtime, tracking) == "resolved"  # a rating never reopens
    assert _rating(runtime, tracking).score == 4

    comment = citizen.says("Petugasnya cepat, terima kasih")
    assert any("komentar" in m.text for m in comment)
    rating = _rating(runtime, tracking)
    assert rating.comment == "Petugasnya cepat, terima kasih" and not rating.reopen_offered
    assert _status(runtime, tracking) == "resolved"
    assert not any("Ombudsman" in m.text for m in update + answer + comment)

    # Asked once: resolved again after a reopen, the question does not come back.
    for body in ({"status": "reopen"}, {"status": "resolved", "note": "Sudah diperbaiki lagi"}):
        assert (
            client.post(f"/api/v1/tickets/{tracking}/status", json=body, headers=headers).status_code == 200
        )
    again = citizen.reads()
    assert again and not any((m.payload or {}).get("buttons") or "Seberapa puas" in m.text for m in again)


LOW = [("sms", "081234567311"), ("whatsapp", "+6281234567312")]


@pytest.mark.parametrize(("channel", "sender"), LOW, ids=[c for c, _ in LOW])
def test_a_low_rating_tells_of_the_ombudsman_and_with_a_comment_offers_a_reopen(
    app: Any, client: Any, runtime: Any, drain: Any, channel: str, sender: str
) -> None:
    citizen = Citizen(client, runtime, drain, channel, sender)
    tracking = citizen.files(COMPLAINT, PLACE)
    citizen.reads()
    _resolve(client, _api(runtime), tracking)
    citizen.reads()
    answer = citizen.says("2")  # a lone digit while the question is open: a rating, never a reopen
    texts = [m.text for m in answer]
    assert any("nilai 2" in t for t in texts), texts
    assert any("Ombudsman" in t and "137" in t for t in texts), texts
    assert _status(runtime, tracking) == "resolved"
    citizen.says("Lampunya cuma diganti sehari, sekarang mati lagi")
    rating = _rating(runtime, tracking)
    assert rating.score == 2 and rating.reopen_offered
    assert _status(runtime, tracking) == "resolved"

    with runtime.db.session() as session:
        make_operator(session, "koor@example.id", "coordinator", "diskominfo", "Kiki Koordinator")
    inbox = app.test_client()
    assert login(inbox, "koor@example.id").status_code == 302
    page = inbox.get(f"/inbox/t/{tracking}").get_data(as_text=True)
    assert 'class="reopen-offer' in page and "mati lagi" in page
    res = inbox.post(f"/inbox/t/{tracking}/action", data={"action": "reopen", "note": ""})
    assert res.status_code == 302
    assert _status(runtime, tracking) != "resolved"
    assert not _rating(runtime, tracking).reopen_offered
    assert 'class="reopen-offer' not in inbox.get(f"/inbox/t/{tracking}").get_data(as_text=True)
    # The Ombudsman notice went once.
    with runtime.db.session() as session:
        told = session.scalars(select(Message.text).where(Message.dedupe_key.like("ombudsman:%"))).all()
    assert len(told) == 1


def test_the_question_closes_with_the_reopen_window(client: Any, runtime: Any, drain: Any) -> None:
    from datetime import timedelta

    from gateway.store.models import utcnow

    citizen = Citizen(client, runtime, drain, "sms", "081234567321")
    tracking = citizen.files(COMPLAINT, PLACE)
    _resolve(client, _api(runtime), tracking)
    citizen.reads()
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
        assert ticket is not None
        row = session.scalar(select(TicketRating).where(TicketRating.ticket_id == ticket.id))
        assert row is not None
        row.expires_at = utcnow() - timedelta(minutes=1)
    citizen.says("3")
    assert _rating(runtime, tracking).score is None


def test_figures_publish_averages_and_counts_without_comments(
    app: Any, client: Any, runtime: Any, drain: Any
) -> None:
    headers = _api(runtime)
    for sender, score in (("081234567331", "5"), ("081234567332", "2")):
        citizen = Citizen(client, runtime, drain, "sms", sender)
        tracking = citizen.files(COMPLAINT, PLACE)
        _resolve(client, headers, tracking)
        citizen.reads()
        citizen.says(score)
        citizen.says("Komentar rahasia warga")
    stats = client.get("/api/v1/stats", headers=headers).get_json()
    satisfaction = stats["satisfaction"]
    assert satisfaction["count"] == 2 and satisfaction["average"] == 3.5
    assert satisfaction["distribution"] == {"1": 0, "2": 1, "3": 0, "4": 0, "5": 1}
    [agency] = satisfaction["agencies"]
    assert agency["code"] == "dpupr" and agency["count"] == 2 and agency["average"] == 3.5
    assert satisfaction["categories"][0]["count"] == 2
    assert sum(m["count"] for m in satisfaction["trend"]) == 2
    assert "Komentar rahasia" not in json.dumps(stats)
    public = client.get("/statistik").get_data(as_text=True)
    assert 'id="kepuasan"' in public and "3,5" in public and "Komentar rahasia" not in public
    with runtime.db.session() as session:
        make_operator(session, "koor2@example.id", "coordinator", "diskominfo", "Kiki")
    inbox = app.test_client()
    login(inbox, "koor2@example.id")
    dash = inbox.get("/inbox/dashboard").get_data(as_text=True)
    assert 'id="satisfaction"' in dash and "3,5" in dash
