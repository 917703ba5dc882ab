"""Telegram sends through the real python-telegram-bot `Bot` against the Bot API stand-in."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from urllib.parse import unquote

import pytest

from adapters.base import Attachment, Button, InboundMessage, OutboundMessage, SendError
from adapters.telegram import ALLOWED_UPDATES, TelegramAdapter
from gateway.devtools.loopback.server import Reply
from gateway.devtools.loopback.telegram import TelegramStandIn, tg_error

TOKEN = "7000000001:AAE-standin-token"
CHAT = 987654321
TO = f"telegram:{CHAT}"


@pytest.fixture(scope="module")
def bot_api() -> Iterator[TelegramStandIn]:
    """One server for the module: stopping one takes half a second (its poll interval)."""
    with TelegramStandIn(token=TOKEN) as standin:
        yield standin  # type: ignore[misc]


@pytest.fixture
def api(bot_api: TelegramStandIn) -> TelegramStandIn:
    bot_api.reset()
    return bot_api


def adapter_for(api: TelegramStandIn, **env: str) -> TelegramAdapter:
    adapter = TelegramAdapter.from_env(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_WEBHOOK_SECRET": "s",
            "TELEGRAM_API_BASE_URL": api.api_base_url,
            "TELEGRAM_TIMEOUT": "2",
            **env,
        }
    )
    assert adapter is not None
    return adapter


@pytest.fixture
def adapter(api: TelegramStandIn) -> Iterator[TelegramAdapter]:
    adapter = adapter_for(api)
    yield adapter
    adapter.close()


def out(text: str = "Laporan Anda diterima.", **kwargs: object) -> OutboundMessage:
    return OutboundMessage(channel="telegram", to=TO, text=text, **kwargs)  # type: ignore[arg-type]


# -- success ---------------------------------------------------------------------------------------


def test_text(adapter: TelegramAdapter, api: TelegramStandIn) -> None:
    result = adapter.send(out("Terima kasih 🙏"))
    [call] = api.calls("sendMessage")
    assert call["chat_id"] == str(CHAT)
    assert call["text"] == "Terima kasih 🙏"
    assert "reply_markup" not in call
    assert result.provider_message_id == f"{CHAT}:101"
    assert (result.segments, result.extra_ids) == (1, ())


def test_bot_is_initialized_once_and_reused(adapter: TelegramAdapter, api: TelegramStandIn) -> None:
    for text in ("satu", "dua", "tiga"):
        adapter.send(out(text))
    assert len(api.calls("getMe")) == 1
    assert len(api.calls("sendMessage")) == 3


def test_sends_from_several_threads_share_the_loop(adapter: TelegramAdapter, api: TelegramStandIn) -> None:
    """rq jobs and the web process call from whatever thread they run on."""
    results: list[str] = []

    def worker(i: int) -> None:
        results.append(adapter.send(out(f"pesan {i}")).provider_message_id)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 5
    assert len(api.calls("getMe")) == 1


def test_buttons_are_one_per_row_with_payloads(adapter: TelegramAdapter, api: TelegramStandIn) -> None:
    buttons = (Button("cat_kesehatan", "Kesehatan 🏥"), Button("cat_jalan", "Jalan & Jembatan"))
    adapter.send(out("Pilih kategori:", buttons=buttons))
    [call] = api.calls("sendMessage")
    assert call["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "Kesehatan 🏥", "callback_data": "cat_kesehatan"}],
            [{"text": "Jalan & Jembatan", "callback_data": "cat_jalan"}],
        ]
    }


def test_payload_over_64_bytes_is_refused_before_calling(
    adapter: TelegramAdapter, api: TelegramStandIn
) -> None:
    with pytest.raises(SendError) as caught:
        adapter.send(out("Pilih:", buttons=(Button("x" * 65, "Terlalu panjang"),)))
    assert not caught.value.retryable
    assert api.calls("sendMessage") == []


def test_long_text_is_split_and_keyboard_goes_last(adapter: TelegramAdapter, api: TelegramStandIn) -> None:
    text = ("Tindak lanjut dinas terkait 🚧. " * 300).strip()  # 9,599 UTF-16 units
    result = adapter.send(out(text, buttons=(Button("ok", "Puas"), Button("no", "Tidak puas"))))
    calls = api.calls("sendMessage")
    assert len(calls) == 3
    assert all(len(c["text"].encode("utf-16-le")) // 2 <= 4096 for c in calls)
    assert " ".join(c["text"] for c in calls) == text
    assert [("reply_markup" in c) for c in calls] == [False, False, True]
    assert result.segments == 3
    assert result.extra_ids == (f"{CHAT}:102", f"{CHAT}:103")


def test_photo_with_caption(adapter: TelegramAdapter, api: TelegramStandIn) -> None:
    adapter.send(out("Bukti penanganan", media_url="https://lapor.example.id/media/1.jpg"))
    [call] = api.calls("sendPhoto")
    assert (call["photo"], call["caption"]) == ("https://lapor.example.id/media/1.jpg", "Bukti penanganan")
    assert api.calls("sendMessage") == []


def test_set_webhook(adapter: TelegramAdapter, api: TelegramStandIn) -> None:
    assert adapter.set_webhook("https://lapor.example.id/webhooks/telegram", "tg-secret_1") is True
    assert api.webhook == {
        "url": "https://lapor.example.id/webhooks/telegram",
        "secret_token": "tg-secret_1",
        "allowed_updates": list(ALLOWED_UPDATES),
    }


def test_acknowledge_answers_callback_queries_only(adapter: TelegramAdapter, api: TelegramStandIn) -> None:
    press = InboundMessage(
        channel="telegram", provider_message_id="cq:438", sender=TO, kind="button", callback_id="438"
    )
    plain = InboundMessage(channel="telegram", provider_message_id=f"{CHAT}:5", sender=TO, text="halo")
    adapter.acknowledge(plain)
    adapter.acknowledge(press)
    assert api.answered_callbacks == ["438"]


def test_fetch_media(adapter: TelegramAdapter, api: TelegramStandIn) -> None:
    api.add_file("AgACAgUAAxkBAAIBs2ZmLarge", b"\xff\xd8\xff photo", "photos/file_7.jpg")
    content, content_type = adapter.fetch_media(
        Attachment(kind="image", media_id="AgACAgUAAxkBAAIBs2ZmLarge")
    )
    assert (content, content_type) == (b"\xff\xd8\xff photo", "image/jpeg")
    assert any(unquote(r.path) == f"/file/bot{TOKEN}/photos/file_7.jpg" for r in api.requests)


def test_fetch_unknown_file_is_final(adapter: TelegramAdapter, api: TelegramStandIn) -> None:
    api.serve_any_file = False
    with pytest.raises(SendError) as caught:
        adapter.fetch_media(Attachment(kind="image", media_id="nope"))
    assert not caught.value.retryable


# -- errors --------------------------------------------------------------------------------------------


def test_blocked_user_is_final_and_unreachable(adapter: TelegramAdapter, api: TelegramStandIn) -> None:
    api.block(CHAT)
    with pytest.raises(SendError) as caught:
        adapter.send(out())
    error = caught.value
    assert (error.retryable, error.unreachable, error.code) == (False, True, "403")
    assert "blocked" in error.reason


def test_chat_not_found_is_final(adapter: TelegramAdapter, api: TelegramStandIn) -> None:
    api.forget_chat(CHAT)
    with pytest.raises(SendError) as caught:
        adapter.send(out())
    assert (caught.value.retryable, caught.value.unreachable, caught.value.code) == (False, False, "400")
    assert "chat not found" in caught.value.reason.lower()


def test_flood_control_is_retryable_with_retry_after(adapter: TelegramAdapter, api: TelegramStandIn) -> None:
    api.flood("sendMessage", retry_after=3)
    with pytest.raises(SendError) as caught:
        adapter.send(out())
    assert (caught.value.retryable, caught.value.retry_after, caught.value.code) == (True, 3.0, "429")
    adapter.send(out())  # the next call goes through


@pytest.mark.parametrize(
    ("reply", "retryable"),
    [
        (tg_error(500, "Internal Server Error"), True),
        (tg_error(502, "Bad Gateway"), True),
        (Reply(503, "<html>Service Unavailable</html>"), True),
        (tg_error(400, "Bad Request: message text is empty"), False),
    ],
    ids=["500", "502", "503 html", "400"],
)
def test_http_errors(adapter: TelegramAdapter, api: TelegramStandIn, reply: Reply, retryable: bool) -> None:
    api.fail_method("sendMessage", reply)
    with pytest.raises(SendError) as caught:
        adapter.send(out())
    assert caught.value.retryable is retryable
    assert not caught.value.unreachable


def test_wrong_token_is_final(api: TelegramStandIn) -> None:
    adapter = adapter_for(api, TELEGRAM_BOT_TOKEN="7000000001:wrong")
    try:
        with pytest.raises(SendError) as caught:
            adapter.send(out())
        assert (caught.value.retryable, caught.value.code) == (False, "401")
    finally:
        adapter.close()


def test_timeout_is_retryable(api: TelegramStandIn) -> None:
    adapter = adapter_for(api, TELEGRAM_TIMEOUT="0.3")
    try:
        adapter.send(out("pemanasan"))  # initialize (getMe) first
        api.fail_method("sendMessage", Reply(200, {"ok": True, "result": True}, delay=1.5))
        with pytest.raises(SendError) as caught:
            adapter.send(out())
        assert (caught.value.retryable, caught.value.code) == (True, "timeout")
    finally:
        adapter.close()


def test_unreachable_api_is_retryable() -> None:
    adapter = TelegramAdapter.from_env(
        {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9", "TELEGRAM_TIMEOUT": "1"}
    )
    assert adapter is not None
    try:
        with pytest.raises(SendError) as caught:
            adapter.send(out())
        assert caught.value.retryable
    finally:
        adapter.close()


def test_close_then_send_starts_afresh(api: TelegramStandIn) -> None:
    adapter = adapter_for(api)
    adapter.send(out("satu"))
    adapter.close()
    adapter.send(out("dua"))
    adapter.close()
    assert len(api.calls("getMe")) == 2
    assert [c["text"] for c in api.calls("sendMessage")] == ["satu", "dua"]
