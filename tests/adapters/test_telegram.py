"""Telegram adapter: secret header, parsing (table over testdata/telegram/*.json), simulate.

The Update files are written from the Bot API reference ("Update", "Message",
"CallbackQuery", "ChatMemberUpdated"); each case names a file and its outcome.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters import adapter_class
from adapters.base import ParseResult, PayloadError, SignatureError, WebhookRequest
from adapters.telegram import TelegramAdapter
from tests.adapters.expect import check_message

DATA = Path(__file__).parent / "testdata" / "telegram"
SECRET = "tg-webhook-secret_123"
BUDI = "telegram:987654321"
ENV = {
    "TELEGRAM_BOT_TOKEN": "7000000001:AAE-test-token",
    "TELEGRAM_WEBHOOK_SECRET": SECRET,
    "PUBLIC_BASE_URL": "https://lapor.example.id",
}


def make_adapter(**overrides: str) -> TelegramAdapter:
    adapter = TelegramAdapter.from_env({**ENV, **overrides})
    assert adapter is not None
    return adapter


def post(body: bytes, secret: str | None = SECRET) -> WebhookRequest:
    headers = {"content-type": "application/json"}
    if secret is not None:
        headers["x-telegram-bot-api-secret-token"] = secret
    return WebhookRequest(
        method="POST",
        url="https://lapor.example.id/webhooks/telegram",
        path="/webhooks/telegram",
        headers=headers,
        body=body,
    )


def test_registered_under_its_channel_name() -> None:
    assert adapter_class("telegram") is TelegramAdapter
    assert (TelegramAdapter.name, TelegramAdapter.menu_style, TelegramAdapter.max_text_length) == (
        "telegram",
        "keyboard",
        4096,
    )


@pytest.mark.parametrize("env", [{}, {"TELEGRAM_BOT_TOKEN": ""}, {"TELEGRAM_WEBHOOK_SECRET": "x"}])
def test_channel_is_off_without_token(env: dict[str, str]) -> None:
    assert TelegramAdapter.from_env(env) is None


def test_from_env_does_not_touch_the_network() -> None:
    """Building the adapter (the web process does it at start) must not call Telegram."""
    adapter = make_adapter(TELEGRAM_API_BASE_URL="http://127.0.0.1:9")
    assert adapter.api_base_url == "http://127.0.0.1:9"
    adapter.close()


# -- secret header ------------------------------------------------------------------------------

BODY = (DATA / "text.json").read_bytes()


@pytest.mark.parametrize(
    ("label", "header", "secret_env", "ok"),
    [
        ("right", SECRET, SECRET, True),
        ("wrong", "tg-webhook-secret_124", SECRET, False),
        ("different case", SECRET.upper(), SECRET, False),
        ("missing", None, SECRET, False),
        ("empty", "", SECRET, False),
        ("secret unset: never accept", "", "", False),
        ("secret unset, any header", "anything", "", False),
    ],
)
def test_verify(label: str, header: str | None, secret_env: str, ok: bool) -> None:
    adapter = make_adapter(TELEGRAM_WEBHOOK_SECRET=secret_env)
    if ok:
        adapter.verify(post(BODY, header))
    else:
        with pytest.raises(SignatureError):
            adapter.verify(post(BODY, header))


# -- parse: the table -------------------------------------------------------------------------------


@dataclass
class Case:
    file: str
    raises: type[Exception] | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


CASES = [
    Case(
        "text.json",
        messages=[
            {
                "provider_message_id": "987654321:501",
                "sender": BUDI,
                "sender_name": "Budi Santoso",
                "kind": "text",
                "text": "Lampu PJU di Jl. Kenanga mati sudah seminggu 💡😡",
                "language": "id",
                "edited": False,
                "timestamp": datetime(2024, 6, 10, 6, 13, 20, tzinfo=UTC),
            }
        ],
    ),
    Case("text_long.json", messages=[{"kind": "text", "text_length": 1600}]),
    Case("start.json", messages=[{"kind": "command", "command": "/start", "command_args": None}]),
    Case(
        "start_payload.json",
        messages=[
            {
                "kind": "command",
                "command": "/start",
                "command_args": "lacak_12345678",
                "text": "/start lacak_12345678",
            }
        ],
    ),
    Case(
        "command_with_bot_name.json",
        messages=[{"kind": "command", "command": "/lacak", "command_args": "12345678"}],
    ),
    # The original (text.json) was received and answered in order; an edit is not new input.
    Case("edited.json", ignored=["an edit of message 501 is not taken as new input"]),
    Case(
        "photo.json",
        messages=[
            {
                "kind": "image",
                "text": "Jalan berlubang depan SDN 3",
                "attachment": {
                    "kind": "image",
                    "media_id": "AgACAgUAAxkBAAIBs2ZmLarge",
                    "content_type": "image/jpeg",
                    "size": 98765,
                    "caption": "Jalan berlubang depan SDN 3",
                },
            }
        ],
    ),
    Case(
        "document.json",
        messages=[
            {
                "kind": "document",
                "text": "Scan KTP dan surat",
                "attachment": {
                    "media_id": "BQACAgUAAxkBAAIBtGZmDoc",
                    "filename": "surat_pengantar.pdf",
                    "content_type": "application/pdf",
                },
            }
        ],
    ),
    Case(
        "voice.json",
        messages=[{"kind": "voice", "attachment": {"kind": "voice", "content_type": "audio/ogg"}}],
    ),
    Case(
        "audio.json",
        messages=[
            {"kind": "audio", "attachment": {"filename": "rekaman_rapat.mp3", "content_type": "audio/mpeg"}}
        ],
    ),
    Case(
        "video.json",
        messages=[
            {
                "kind": "video",
                "text": "Banjir di RW 07",
                "attachment": {"media_id": "BAACAgUAAxkBAAIBt2ZmVideo"},
            }
        ],
    ),
    Case(
        "sticker.json",
        messages=[
            {"kind": "sticker", "text": "😢", "attachment": {"content_type": "application/x-tgsticker"}}
        ],
    ),
    Case(
        "location.json",
        messages=[
            {"kind": "location", "location": {"latitude": -6.175392, "longitude": 106.827153, "name": None}}
        ],
    ),
    Case(
        "venue.json",
        messages=[
            {
                "kind": "location",
                "location": {
                    "latitude": -7.257472,
                    "name": "Kantor Kecamatan Genteng",
                    "address": "Jl. Pemuda No. 1, Surabaya",
                },
                "text": "Kantor Kecamatan Genteng\nJl. Pemuda No. 1, Surabaya",
            }
        ],
    ),
    Case("contact.json", messages=[{"kind": "contacts", "text": "Pak Lurah: +6281311112222"}]),
    Case("contact_first_name_only.json", messages=[{"kind": "contacts", "text": "Bu RT: 6281377778888"}]),
    Case(
        "web_app_data.json",
        messages=[
            {
                "provider_message_id": "987654321:530",
                "kind": "text",
                "text": "Kategori: Kebersihan\nLokasi: Pasar Kosambi, Bandung\nSampah belum diangkut 3 hari",
            }
        ],
    ),
    Case("from_bot.json", ignored=["sent by a bot"]),
    Case(
        "callback_query.json",
        messages=[
            {
                "provider_message_id": "cq:4382bfdwdsb323b2d9",
                "sender": BUDI,
                "kind": "button",
                "text": "cat_kesehatan",
                "button_payload": "cat_kesehatan",
                "callback_id": "4382bfdwdsb323b2d9",
                "language": "id",
            }
        ],
    ),
    Case("my_chat_member_kicked.json", events=[{"address": BUDI, "event": "blocked"}]),
    Case("my_chat_member_member.json", events=[{"address": BUDI, "event": "unblocked"}]),
    Case("group_message.json", ignored=["chat type 'supergroup' is not handled"]),
    Case("group_message_plain_group.json", ignored=["chat type 'group' is not handled"]),
    Case("username_only.json", messages=[{"sender": "telegram:55501", "sender_name": "anon_warga"}]),
    # PTB 22.8 refuses this older poll shape (no persistent_id): kept from the raw JSON instead.
    Case(
        "poll.json",
        messages=[
            {"kind": "unsupported", "provider_message_id": "987654321:522", "sender": BUDI, "language": "id"}
        ],
    ),
    Case("message_reaction.json", ignored=["kind message_reaction not handled"]),
    Case("channel_post.json", ignored=["a channel post is not handled"]),
    Case("edited_channel_post.json", ignored=["a channel post is not handled"]),
    Case("unreadable.json", ignored=["could not be read"]),
    Case("no_update_id.json", raises=PayloadError),
    Case("not_an_object.json", raises=PayloadError),
    Case("malformed.json", raises=PayloadError),
]


def parse_file(name: str) -> ParseResult:
    request = post((DATA / name).read_bytes())
    adapter = make_adapter()
    adapter.verify(request)
    return adapter.parse(request)


@pytest.mark.parametrize("case", CASES, ids=[c.file for c in CASES])
def test_parse(case: Case) -> None:
    if case.raises is not None:
        with pytest.raises(case.raises):
            parse_file(case.file)
        return
    result = parse_file(case.file)
    assert len(result.messages) == len(case.messages)
    for message, expected in zip(result.messages, case.messages, strict=True):
        assert message.channel == "telegram"
        check_message(message, expected)
    assert len(result.events) == len(case.events)
    for event, expected in zip(result.events, case.events, strict=True):
        assert event.channel == "telegram"
        for key, value in expected.items():
            assert getattr(event, key) == value, key
    assert not result.statuses
    assert len(result.ignored) == len(case.ignored), result.ignored
    for reason, expected_reason in zip(result.ignored, case.ignored, strict=True):
        assert expected_reason in reason
    assert result.response.status == 200


def test_every_testdata_file_has_a_case() -> None:
    assert {p.name for p in DATA.iterdir()} == {c.file for c in CASES}


def test_raw_keeps_the_whole_update_with_its_id() -> None:
    message = parse_file("photo.json").messages[0]
    assert message.raw["update_id"] == 850000007
    assert len(message.raw["message"]["photo"]) == 3


def test_edits_are_not_subscribed_to() -> None:
    """Edits are ignored (docs/channels.md, "Message shapes"), so set_webhook does not ask for them."""
    from adapters.telegram import ALLOWED_UPDATES

    assert "edited_message" not in ALLOWED_UPDATES
    assert {"message", "callback_query", "my_chat_member"} <= set(ALLOWED_UPDATES)


def test_an_edit_python_telegram_bot_cannot_read_is_ignored_too() -> None:
    data = json.loads((DATA / "edited.json").read_text())
    data["edited_message"]["poll"] = {"id": "1", "question": "?"}  # PTB refuses this poll shape
    result = make_adapter().parse(post(json.dumps(data).encode()))
    assert result.messages == []
    assert len(result.ignored) == 1 and "an edit of message 501" in result.ignored[0]


def test_payload_error_reasons() -> None:
    with pytest.raises(PayloadError, match="update_id"):
        parse_file("no_update_id.json")
    with pytest.raises(PayloadError, match="not valid JSON"):
        parse_file("malformed.json")


# -- simulate ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("sender", ["telegram:987654321", "987654321"])
def test_simulate_text_round_trips(sender: str) -> None:
    adapter = make_adapter()
    simulated = adapter.simulate(sender, "Sampah tidak diangkut 🗑️")
    assert (simulated.method, simulated.path) == ("POST", "/webhooks/telegram")
    request = post(simulated.body, simulated.headers["X-Telegram-Bot-Api-Secret-Token"])
    adapter.verify(request)
    [message] = adapter.parse(request).messages
    assert (message.sender, message.kind, message.text, message.language) == (
        BUDI,
        "text",
        "Sampah tidak diangkut 🗑️",
        "id",
    )


def test_simulate_start_command_photo_and_location() -> None:
    adapter = make_adapter()
    start = adapter.simulate("telegram:42", "/start lacak_1")
    [message] = adapter.parse(post(start.body)).messages
    assert (message.kind, message.command, message.command_args) == ("command", "/start", "lacak_1")
    photo = adapter.simulate("telegram:42", "bukti", photo_url="https://example.org/p.jpg", message_id="77")
    [message] = adapter.parse(post(photo.body)).messages
    assert message.kind == "image"
    assert message.attachments[0].media_id
    assert message.provider_message_id == "42:77"
    pin = adapter.simulate("telegram:42", "", location=(-6.2, 106.8))
    [message] = adapter.parse(post(pin.body)).messages
    assert message.location is not None
    assert (message.location.latitude, message.location.longitude) == (-6.2, 106.8)


def test_simulate_needs_the_secret() -> None:
    with pytest.raises(SignatureError):
        make_adapter(TELEGRAM_WEBHOOK_SECRET="").simulate("telegram:42", "halo")


# -- through the real webhook: ignored shapes store nothing, refused ones say why ------------------
GATEWAY_SECRET = "telegram-secret"  # TELEGRAM_WEBHOOK_SECRET of the test settings (tests/conftest.py)


def _post_to_gateway(client: Any, name: str) -> Any:
    return client.post(
        "/webhooks/telegram",
        data=(DATA / name).read_bytes(),
        headers={"X-Telegram-Bot-Api-Secret-Token": GATEWAY_SECRET, "Content-Type": "application/json"},
    )


def _stored_texts(runtime: Any) -> list[str]:
    from sqlalchemy import select

    from gateway.store.models import Message

    with runtime.db.session() as session:
        return list(session.scalars(select(Message.text)).all())


@pytest.mark.parametrize("name", ["from_bot.json", "edited.json", "edited_channel_post.json"])
def test_webhook_answers_an_ignored_shape_200_and_stores_nothing(
    client: Any, runtime: Any, name: str
) -> None:
    res = _post_to_gateway(client, name)
    assert res.status_code == 200
    assert _stored_texts(runtime) == []


def test_webhook_refuses_an_update_without_id_with_the_reason(client: Any, runtime: Any) -> None:
    res = _post_to_gateway(client, "no_update_id.json")
    assert res.status_code == 400
    assert "update_id" in res.get_json()["error"]["message"]
    assert _stored_texts(runtime) == []


def test_webhook_stores_web_app_data_as_its_text(client: Any, runtime: Any) -> None:
    assert _post_to_gateway(client, "web_app_data.json").status_code == 200
    assert _stored_texts(runtime) == [
        "Kategori: Kebersihan\nLokasi: Pasar Kosambi, Bandung\nSampah belum diangkut 3 hari"
    ]
