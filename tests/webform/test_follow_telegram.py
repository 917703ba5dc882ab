"""Following a web complaint on Telegram: the receipt's deep link, ``/start <code>`` through the
real webhook and worker, and the status updates on the Telegram stand-in."""

from __future__ import annotations

import html as entities
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select

from config.settings import Settings, load_settings
from gateway.store.models import Ticket, TicketSupporter
from gateway.tickets import supporters
from gateway.tickets.followers import issue_code
from tests.voice.citizen import Citizen
from tests.webform.conftest import complaint, tracking_in

CHAT = "telegram:5550177"


def _web_complaint(client: Any, drain: Any, token: Any, **fields: Any) -> tuple[str, str]:
    """Submit the form; (tracking number, the receipt's "follow on Telegram" link)."""
    res = client.post("/lapor", data=complaint(token(), **fields))
    assert res.status_code == 303, res.get_data(as_text=True)
    drain()
    page = client.get(res.headers["Location"]).get_data(as_text=True)
    found = re.search(r'id="telegram-link" href="([^"]+)"', page)
    assert found, page
    return tracking_in(page), entities.unescape(found.group(1))


def _set_status(client: Any, runtime: Any, tracking: str, status: str) -> None:
    from gateway.web.api.auth import create_token

    with runtime.db.session() as session:
        _, api = create_token(session, "city-system")
    res = client.post(
        f"/api/v1/tickets/{tracking}/status",
        json={"status": status, "agency": "dishub"},
        headers={"Authorization": f"Bearer {api}"},
    )
    assert res.status_code == 200, res.get_data(as_text=True)


def _sent_to(providers: dict[str, Any], chat: str) -> list[str]:
    chat_id = chat.split(":", 1)[1]
    return [
        str(call.get("text"))
        for call in providers["telegram"].calls("sendMessage")
        if str(call.get("chat_id")) == chat_id
    ]


def test_the_receipt_link_makes_the_chat_follow_the_ticket(
    client: Any, runtime: Any, drain: Any, token: Any, providers: dict[str, Any]
) -> None:
    assert "Telegram" in client.get("/lapor").get_data(as_text=True)  # the updates field says so
    tracking, link = _web_complaint(client, drain, token, privacy="public")
    url = urlparse(link)
    assert (url.scheme, url.netloc, url.path) == ("https", "t.me", "/LaporGatewayBot")  # from getMe
    [code] = parse_qs(url.query)["start"]
    assert len(code) <= 64 and re.fullmatch(r"[A-Za-z0-9_-]+", code)

    citizen = Citizen(client, runtime, drain, "telegram", CHAT)
    answer = "\n".join(m.text for m in citizen.says(f"/start {code}"))
    assert f"#{tracking}" in answer and "akan kami kirim ke sini" in answer

    _set_status(client, runtime, tracking, "dispatched")
    drain()
    updates = [t for t in _sent_to(providers, CHAT) if tracking in t and t not in answer]
    assert updates, _sent_to(providers, CHAT)
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
        assert ticket is not None
        rows = session.scalars(select(TicketSupporter).where(TicketSupporter.ticket_id == ticket.id)).all()
        assert [(r.channel, r.role) for r in rows] == [("telegram", "follower")]
        # A follower only hears the updates: not one more reporter.
        assert supporters.count(session, ticket.id) == 0
        assert supporters.reporters(ticket) == 1

    again = "\n".join(m.text for m in citizen.says(f"/start {code}"))
    assert "sudah mengikuti" in again

    # A follower who then reports the same problem (IKUT on the verified public ticket) is counted.
    assert "kini 2 pelapor" in "\n".join(m.text for m in citizen.says(f"IKUT {tracking}"))
    with runtime.db.session() as session:
        [row] = session.scalars(select(TicketSupporter)).all()
        assert (row.role, row.source) == ("supporter", "join")
        assert supporters.count(session, row.ticket_id) == 1


def test_a_bad_or_expired_link_gets_a_clear_answer_and_follows_nothing(
    client: Any, runtime: Any, drain: Any, token: Any, providers: dict[str, Any]
) -> None:
    tracking, link = _web_complaint(client, drain, token)
    code = parse_qs(urlparse(link).query)["start"][0]
    citizen = Citizen(client, runtime, drain, "telegram", CHAT)
    forged = code[:-4] + ("AAAA" if not code.endswith("AAAA") else "BBBB")
    assert "tidak kami kenali" in "\n".join(m.text for m in citizen.says(f"/start {forged}"))
    old = issue_code(runtime.settings.secret_key, tracking, days=1, now=time.time() - 3 * 86400)
    answer = "\n".join(m.text for m in citizen.says(f"/start {old}"))
    assert "kedaluwarsa" in answer and tracking in answer
    with runtime.db.session() as session:
        assert session.scalar(select(TicketSupporter.id)) is None
    assert not [m for m in citizen.reads()]  # no draft, nothing else asked


class TestTheBotUsernameFromSettings:
    """With TELEGRAM_BOT_USERNAME set, the link names it and getMe is not asked."""

    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return load_settings({**settings.env, "TELEGRAM_BOT_USERNAME": "@KotaLaporBot"}, testing=True)

    def test_the_link_names_the_configured_bot(
        self, client: Any, drain: Any, token: Any, providers: dict[str, Any]
    ) -> None:
        _tracking, link = _web_complaint(client, drain, token)
        assert link.startswith("https://t.me/KotaLaporBot?start=f")
        assert providers["telegram"].calls("getMe") == []


class TestWithoutTelegram:
    """With the Telegram channel off, neither the form nor the receipt mentions it."""

    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        env = {k: v for k, v in settings.env.items() if not k.startswith("TELEGRAM_")}
        return load_settings(env, testing=True)

    def test_no_link_and_no_hint(self, client: Any, drain: Any, token: Any) -> None:
        assert 'id="telegram-hint"' not in client.get("/lapor").get_data(as_text=True)
        res = client.post("/lapor", data=complaint(token()))
        drain()
        page = client.get(res.headers["Location"]).get_data(as_text=True)
        assert tracking_in(page) and "t.me/" not in page


def test_an_unreachable_bot_api_shows_no_link_and_is_not_asked_on_every_page(
    settings: Settings, providers: dict[str, Any]
) -> None:
    from adapters.telegram.adapter import TelegramAdapter
    from gateway.devtools.loopback.telegram import tg_error

    stand_in = providers["telegram"]
    adapter = TelegramAdapter.from_env(settings.env)
    assert adapter is not None
    stand_in.fail_method("getMe", tg_error(500, "Internal Server Error"))
    assert adapter.bot_username() is None
    asked = len(stand_in.calls("getMe"))
    assert adapter.bot_username() is None  # within the pause: not asked again
    assert len(stand_in.calls("getMe")) == asked
    adapter._username_retry_at = 0.0  # the pause is over
    assert adapter.bot_username() == "LaporGatewayBot"
