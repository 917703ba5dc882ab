"""`lapor-gateway telegram poll`: Telegram by long polling, against the loopback Bot API.

The same storage path as the webhook: the adapter's parse, the duplicate check by the
update's provider id, the process_inbound job, and the reply through the real client.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from gateway.messages.telegram_poll import PollRefused, poll
from gateway.store.models import Message, Ticket

CHAT = 700000321


@pytest.fixture
def bot(providers: dict[str, Any]) -> Any:
    stand_in = providers["telegram"]
    stand_in.reset()
    yield stand_in
    stand_in.reset()


def _inbound(runtime: Any) -> list[Message]:
    with runtime.db.session() as session:
        return list(
            session.scalars(
                select(Message).where(Message.direction == "in", Message.channel == "telegram")
            ).all()
        )


def _sent_texts(bot: Any, chat: int) -> list[str]:
    return [str(c["text"]) for c in bot.calls("sendMessage") if str(c.get("chat_id")) == str(chat)]


def test_refuses_while_a_webhook_is_set(runtime: Any, bot: Any) -> None:
    runtime.adapter("telegram").set_webhook("https://lapor.example.go.id/webhooks/telegram", "s3cret")
    bot.push_text(CHAT, "Lampu jalan mati di Jl. Kenanga 5")
    with pytest.raises(PollRefused, match="--delete-webhook"):
        poll(runtime, once=True)
    assert bot.calls("getUpdates") == []  # it asked getWebhookInfo first, and stopped
    assert bot.webhook["url"]  # left as it was
    assert _inbound(runtime) == []


def test_delete_webhook_then_poll_files_a_complaint_end_to_end(runtime: Any, bot: Any, drain: Any) -> None:
    runtime.adapter("telegram").set_webhook("https://lapor.example.go.id/webhooks/telegram", "s3cret")
    bot.push_text(CHAT, "Jalan berlubang besar di depan SDN 3 Sukamaju, sudah dua bulan")
    stats = poll(runtime, delete_webhook=True, once=True)
    assert bot.webhook == {}
    assert stats.stored == 1
    drain()
    assert any("lokasi" in t.lower() or "di mana" in t.lower() for t in _sent_texts(bot, CHAT))
    for answer in ("Jl. Merdeka no 10, Kec. Sukamaju", "ANONIM", "YA"):
        bot.push_text(CHAT, answer)
        poll(runtime, once=True)
        drain()
    filed = _sent_texts(bot, CHAT)[-1]
    tracking = re.search(r"#(\d{8})", filed)
    assert tracking, filed
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking.group(1)))
        assert ticket is not None and ticket.channel == "telegram"
        assert ticket.address == f"telegram:{CHAT}"
    # Every update was confirmed once stored: nothing waits at Telegram.
    assert bot.pending_updates == []


def test_an_update_fetched_twice_or_also_posted_to_the_webhook_is_one_message(
    runtime: Any, bot: Any, client: Any, drain: Any
) -> None:
    update_id = bot.push_text(CHAT, "Sampah menumpuk di pasar Sukamaju sudah seminggu")
    update = bot.pending_updates[0]
    adapter = runtime.adapter("telegram")
    # A poller killed after storing, before confirming: the same update comes again.
    first = adapter.get_updates(None, 0)
    assert [u["update_id"] for u in first] == [update_id]
    stats = poll(runtime, once=True)
    assert stats.stored == 1
    again = bot.push_update(update)  # Telegram redelivers the same update_id
    assert again == update_id
    stats = poll(runtime, once=True)
    assert (stats.stored, stats.duplicates) == (0, 1)
    # ... and the same update posted to the webhook (a webhook set back meanwhile) is a duplicate too.
    import json

    res = client.post(
        "/webhooks/telegram",
        data=json.dumps(update),
        headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": "telegram-secret"},
    )
    assert res.status_code == 200
    assert len(_inbound(runtime)) == 1
    drain()
    with runtime.db.session() as session:
        jobs = session.scalar(select(func.count()).select_from(Message).where(Message.direction == "out"))
    assert jobs == 1  # one reply: one message, one job


def test_long_poll_waits_for_an_update_and_stops_on_request(runtime: Any, bot: Any, drain: Any) -> None:
    stop = threading.Event()
    result: dict[str, Any] = {}

    def run() -> None:
        result["stats"] = poll(runtime, timeout=1, stop=stop)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    bot.push_text(CHAT, "Lampu jalan mati di Jl. Kenanga 5 sejak seminggu")
    for _ in range(50):
        if _inbound(runtime):
            break
        threading.Event().wait(0.1)
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert result["stats"].stored == 1
    # getUpdates asked with the kinds the adapter parses and a long-poll timeout.
    call = bot.calls("getUpdates")[0]
    assert call["allowed_updates"] == ["message", "callback_query", "my_chat_member"]
    assert str(call["timeout"]) == "1"
    drain()
    assert _sent_texts(bot, CHAT)


def test_a_second_poller_or_a_new_webhook_ends_the_run(runtime: Any, bot: Any) -> None:
    from gateway.devtools.loopback.telegram import tg_error

    bot.fail_method("getUpdates", tg_error(409, "Conflict: terminated by other getUpdates request"))
    with pytest.raises(PollRefused, match="Conflict"):
        poll(runtime, timeout=0, stop=threading.Event())


def test_the_command_line(runtime: Any, bot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.cli import main

    for key, value in runtime.settings.env.items():
        monkeypatch.setenv(key, value)
    runtime.adapter("telegram").set_webhook("https://lapor.example.go.id/webhooks/telegram", "s3cret")
    bot.push_text(CHAT, "Drainase tersumbat di Jl. Melati 3, banjir tiap hujan")
    refused = CliRunner().invoke(main, ["telegram", "poll", "--once"])
    assert refused.exit_code == 1
    assert "--delete-webhook" in refused.output
    done = CliRunner().invoke(main, ["telegram", "poll", "--once", "--delete-webhook"])
    assert done.exit_code == 0, done.output
    assert "1 message(s) stored" in done.output
    assert len(_inbound(runtime)) == 1
