"""WhatsApp Cloud API sends through the real `requests` client against the Graph stand-in.

What the stand-in received is what Meta would have received; its validation of
Meta's limits (button titles, list rows, body lengths) makes shape mistakes fail here.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.base import Attachment, Button, OutboundMessage, SendError, Template
from adapters.whatsapp import ERROR_TABLE, WhatsAppCloudAdapter
from gateway.devtools.loopback.meta import MetaStandIn, graph_error
from gateway.devtools.loopback.server import Reply

TOKEN = "EAAG-standin-token"
PHONE_NUMBER_ID = "106540352242922"
SITI = "whatsapp:+6281234567890"


@pytest.fixture(scope="module")
def graph() -> Iterator[MetaStandIn]:
    """One server for the module: stopping one takes half a second (its poll interval)."""
    with MetaStandIn(access_token=TOKEN, phone_number_id=PHONE_NUMBER_ID) as standin:
        yield standin  # type: ignore[misc]


@pytest.fixture
def meta(graph: MetaStandIn) -> MetaStandIn:
    graph.reset()
    return graph


def adapter_for(meta: MetaStandIn, **env: str) -> WhatsAppCloudAdapter:
    adapter = WhatsAppCloudAdapter.from_env(
        {
            "WHATSAPP_ACCESS_TOKEN": TOKEN,
            "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
            "WHATSAPP_APP_SECRET": "s",
            "WHATSAPP_API_BASE_URL": meta.api_base_url,
            "WHATSAPP_TIMEOUT": "2",
            **env,
        }
    )
    assert adapter is not None
    return adapter


@pytest.fixture
def adapter(meta: MetaStandIn) -> Iterator[WhatsAppCloudAdapter]:
    adapter = adapter_for(meta)
    yield adapter
    adapter.close()


def out(text: str = "Laporan Anda diterima.", **kwargs: object) -> OutboundMessage:
    return OutboundMessage(channel="whatsapp", to=SITI, text=text, **kwargs)  # type: ignore[arg-type]


# -- success shapes -----------------------------------------------------------------------------


def test_text(adapter: WhatsAppCloudAdapter, meta: MetaStandIn) -> None:
    result = adapter.send(out("Terima kasih 🙏", reference="out-17"))
    assert result.provider_message_id.startswith("wamid.")
    assert (result.segments, result.extra_ids) == (1, ())
    [request] = meta.requests
    assert request.path == f"/v21.0/{PHONE_NUMBER_ID}/messages"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.json() == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "6281234567890",
        "type": "text",
        "text": {"preview_url": False, "body": "Terima kasih 🙏"},
        "biz_opaque_callback_data": "out-17",
    }


def test_session_is_reused_across_sends(adapter: WhatsAppCloudAdapter) -> None:
    adapter.send(out("satu"))
    session = adapter.session
    adapter.send(out("dua"))
    assert adapter.session is session


def test_bsuid_recipient_goes_in_recipient_field(adapter: WhatsAppCloudAdapter, meta: MetaStandIn) -> None:
    adapter.send(OutboundMessage(channel="whatsapp", to="whatsapp:ID.13491208655302741918", text="halo"))
    body = meta.sent_messages()[0]
    assert body["recipient"] == "ID.13491208655302741918"
    assert "to" not in body


def test_three_buttons_are_reply_buttons(adapter: WhatsAppCloudAdapter, meta: MetaStandIn) -> None:
    buttons = (
        Button("anon_yes", "Ya, rahasiakan identitas saya"),  # longer than 20: clipped
        Button("anon_no", "Tidak"),
        Button("cancel", "Batal"),
    )
    adapter.send(out("Rahasiakan identitas?", buttons=buttons))
    interactive = meta.sent_messages()[0]["interactive"]
    assert interactive["type"] == "button"
    assert interactive["body"] == {"text": "Rahasiakan identitas?"}
    replies = [b["reply"] for b in interactive["action"]["buttons"]]
    assert [r["id"] for r in replies] == ["anon_yes", "anon_no", "cancel"]
    assert all(len(r["title"]) <= 20 for r in replies)
    assert replies[0]["title"].startswith("Ya, rahasiakan")


def test_four_to_ten_buttons_are_a_list(adapter: WhatsAppCloudAdapter, meta: MetaStandIn) -> None:
    buttons = tuple(
        Button(f"cat_{i}", f"Kategori nomor {i} yang sangat panjang", description="x" * 100)
        for i in range(10)
    )
    adapter.send(out("Pilih kategori laporan:", buttons=buttons, menu_title="Lihat kategori"))
    interactive = meta.sent_messages()[0]["interactive"]
    assert interactive["type"] == "list"
    assert interactive["action"]["button"] == "Lihat kategori"
    [section] = interactive["action"]["sections"]
    rows = section["rows"]
    assert [r["id"] for r in rows] == [f"cat_{i}" for i in range(10)]
    assert all(len(r["title"]) <= 24 and len(r["description"]) <= 72 for r in rows)


def test_list_without_menu_title_gets_a_default_label(
    adapter: WhatsAppCloudAdapter, meta: MetaStandIn
) -> None:
    adapter.send(out("Pilih:", buttons=tuple(Button(str(i), f"Pilihan {i}") for i in range(4))))
    assert meta.sent_messages()[0]["interactive"]["action"]["button"]


def test_more_than_ten_choices_is_refused_before_calling_meta(
    adapter: WhatsAppCloudAdapter, meta: MetaStandIn
) -> None:
    with pytest.raises(SendError) as caught:
        adapter.send(out("Pilih:", buttons=tuple(Button(str(i), str(i)) for i in range(11))))
    assert not caught.value.retryable
    assert meta.requests == []


def test_template(adapter: WhatsAppCloudAdapter, meta: MetaStandIn) -> None:
    template = Template("lapor_update", "id", ("#12345678", "Sedang Diproses"))
    result = adapter.send(out("ignored when a template is set", template=template))
    assert result.provider_message_id.startswith("wamid.")
    body = meta.sent_messages()[0]
    assert body["type"] == "template"
    assert body["template"] == {
        "name": "lapor_update",
        "language": {"code": "id"},
        "components": [
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": "#12345678"},
                    {"type": "text", "text": "Sedang Diproses"},
                ],
            }
        ],
    }


def test_template_without_parameters_has_no_components(
    adapter: WhatsAppCloudAdapter, meta: MetaStandIn
) -> None:
    adapter.send(out(template=Template("hello_world", "en_US")))
    assert "components" not in meta.sent_messages()[0]["template"]


def test_media_url_is_an_image_with_caption(adapter: WhatsAppCloudAdapter, meta: MetaStandIn) -> None:
    adapter.send(out("Bukti penanganan", media_url="https://lapor.example.id/media/1.jpg"))
    body = meta.sent_messages()[0]
    assert body["type"] == "image"
    assert body["image"] == {"link": "https://lapor.example.id/media/1.jpg", "caption": "Bukti penanganan"}


def test_long_text_is_split_at_word_boundaries(adapter: WhatsAppCloudAdapter, meta: MetaStandIn) -> None:
    text = " ".join(f"kata{i}" for i in range(1500))  # 12,389 characters
    result = adapter.send(out(text))
    bodies = [b["text"]["body"] for b in meta.sent_messages()]
    assert len(bodies) == 4
    assert all(len(b) <= 4096 for b in bodies)
    assert all(not b.startswith(" ") and not b.endswith(" ") for b in bodies)
    assert " ".join(bodies) == text
    assert result.segments == 4
    assert len(result.extra_ids) == 3
    assert len({result.provider_message_id, *result.extra_ids}) == 4


def test_long_text_with_buttons_ends_with_the_interactive_part(
    adapter: WhatsAppCloudAdapter, meta: MetaStandIn
) -> None:
    text = "Ringkasan laporan. " * 300  # 5,700 characters
    adapter.send(out(text, buttons=(Button("ok", "Benar"), Button("edit", "Ubah"))))
    sent = meta.sent_messages()
    assert [b["type"] for b in sent[:-1]] == ["text"] * (len(sent) - 1)
    assert sent[-1]["type"] == "interactive"
    assert len(sent[-1]["interactive"]["body"]["text"]) <= 1024


def test_window_template_flattens_text_for_meta(adapter: WhatsAppCloudAdapter, meta: MetaStandIn) -> None:
    template = adapter.window_template("Status tiket #12345678:\n\nSedang    diproses\tdinas.")
    assert template.name == "lapor_update"
    assert template.parameters == ("Status tiket #12345678: Sedang diproses dinas.",)
    adapter.send(out(template=template))  # the stand-in refuses newlines and tabs in parameters


# -- errors --------------------------------------------------------------------------------------


def test_window_closed_is_final_and_flagged_but_templates_pass(
    adapter: WhatsAppCloudAdapter, meta: MetaStandIn
) -> None:
    meta.close_window("6281234567890")
    with pytest.raises(SendError) as caught:
        adapter.send(out("Balasan operator"))
    error = caught.value
    assert (error.window_closed, error.retryable, error.code) == (True, False, "131047")
    assert "24 hours" in error.reason
    result = adapter.send(out(template=adapter.window_template("Balasan operator")))
    assert result.provider_message_id.startswith("wamid.")


@pytest.mark.parametrize(
    ("reply", "retryable", "code", "retry_after"),
    [
        (graph_error(100, "(#100) Invalid parameter"), False, "100", None),
        (graph_error(131026, "Message Undeliverable."), False, "131026", None),
        (graph_error(131051, "Unsupported message type"), False, "131051", None),
        (graph_error(190, "Error validating access token", status=401), False, "190", None),
        (Reply(401, {"error": {"message": "no code here"}}), False, "401", None),
        (graph_error(130429, "Rate limit hit"), True, "130429", None),
        (graph_error(131056, "(#131056) Pair rate limit hit"), True, "131056", None),
        (graph_error(4, "(#4) Application request limit reached", status=403), True, "4", None),
        (graph_error(80007, "Rate limit issues", status=429), True, "80007", None),
        (Reply(429, {"error": {"message": "slow down"}}, headers={"Retry-After": "7"}), True, "429", 7.0),
        (graph_error(131000, "Something went wrong", status=500), True, "131000", None),
        (graph_error(131016, "Service unavailable", status=503), True, "131016", None),
        (Reply(500, "<html>Internal Server Error</html>"), True, "500", None),
        (Reply(502, ""), True, "502", None),
    ],
    ids=lambda v: str(getattr(v, "status", v)),
)
def test_graph_errors(
    adapter: WhatsAppCloudAdapter,
    meta: MetaStandIn,
    reply: Reply,
    retryable: bool,
    code: str,
    retry_after: float | None,
) -> None:
    meta.fail_next(reply)
    with pytest.raises(SendError) as caught:
        adapter.send(out())
    error = caught.value
    assert (error.retryable, error.code, error.retry_after) == (retryable, code, retry_after)
    assert not error.window_closed


def test_wrong_token_is_final(meta: MetaStandIn) -> None:
    adapter = adapter_for(meta, WHATSAPP_ACCESS_TOKEN="expired-token")
    with pytest.raises(SendError) as caught:
        adapter.send(out())
    assert (caught.value.retryable, caught.value.code) == (False, "190")


def test_timeout_is_retryable(meta: MetaStandIn) -> None:
    adapter = adapter_for(meta, WHATSAPP_TIMEOUT="0.2")
    meta.fail_next(Reply(200, {"messages": [{"id": "wamid.late"}]}, delay=1.0))
    with pytest.raises(SendError) as caught:
        adapter.send(out())
    assert caught.value.retryable
    assert "timed out" in caught.value.reason


def test_unreachable_server_is_retryable(meta: MetaStandIn) -> None:
    adapter = adapter_for(meta, WHATSAPP_API_BASE_URL="http://127.0.0.1:9/v21.0")
    with pytest.raises(SendError) as caught:
        adapter.send(out())
    assert caught.value.retryable


def test_success_without_message_id_is_final(adapter: WhatsAppCloudAdapter, meta: MetaStandIn) -> None:
    meta.fail_next(Reply(200, {"messaging_product": "whatsapp"}))
    with pytest.raises(SendError) as caught:
        adapter.send(out())
    assert not caught.value.retryable


def test_invalid_recipient_is_final_without_calling_meta(
    adapter: WhatsAppCloudAdapter, meta: MetaStandIn
) -> None:
    with pytest.raises(SendError):
        adapter.send(OutboundMessage(channel="whatsapp", to="whatsapp:1708", text="x"))
    assert meta.requests == []


def test_error_table_flags() -> None:
    assert ERROR_TABLE[131047].window_closed
    assert {code for code, rule in ERROR_TABLE.items() if rule.retryable} >= {
        4,
        80007,
        130429,
        131056,
        131000,
    }


# -- media ---------------------------------------------------------------------------------------


def test_fetch_media_resolves_id_then_downloads_with_token(
    adapter: WhatsAppCloudAdapter, meta: MetaStandIn
) -> None:
    meta.add_media("2754859441498128", b"\xff\xd8\xff jpeg bytes", "image/jpeg")
    content, content_type = adapter.fetch_media(Attachment(kind="image", media_id="2754859441498128"))
    assert (content, content_type) == (b"\xff\xd8\xff jpeg bytes", "image/jpeg")
    lookup, download = meta.requests
    assert lookup.path == "/v21.0/2754859441498128"
    assert download.headers["authorization"] == f"Bearer {TOKEN}"


def test_fetch_unknown_media_is_final(meta: MetaStandIn) -> None:
    meta.serve_any_media = False
    adapter = adapter_for(meta)
    with pytest.raises(SendError) as caught:
        adapter.fetch_media(Attachment(kind="image", media_id="404404"))
    assert not caught.value.retryable
