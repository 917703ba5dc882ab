"""Long replies: counted as they will travel, refused when they do not fit, never cut on the way.

The complaint behind this file: an 858-character SMS reply reached the citizen as ~480
characters ending in "...", and the thread showed the cut text.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from sqlalchemy import select

from adapters.sms.segments import split_segments
from gateway.store.models import CannedResponse, Message, Ticket
from tests.inbox.conftest import World, file_ticket

SMS_CITIZEN = "tel:+6285712345678"
#: Indonesian prose, GSM-7 only; 858 characters as in the report.
LONG_REPLY = (
    "Terima kasih atas laporan Anda. Tim Dinas PU sudah meninjau lokasi jalan berlubang di depan "
    "sekolah pada hari Senin dan mencatat tiga titik kerusakan. Perbaikan dijadwalkan minggu depan "
    "setelah material aspal tiba dari gudang. Selama menunggu, kami memasang rambu peringatan di "
    "kedua arah. Mohon warga berhati-hati saat melintas terutama pada malam hari. "
) * 3
LONG_REPLY = (LONG_REPLY + "Bila ada kerusakan baru di wilayah Anda, balas pesan ini." * 5)[:858]


def _sms_ticket(runtime: Any) -> str:
    with runtime.db.session() as session:
        ticket = file_ticket(
            session, runtime, text="Jalan rusak di depan pasar", category="jalan", dispose_to="dpupr"
        )
        ticket.channel, ticket.address = "sms", SMS_CITIZEN
        return ticket.tracking


def _operator_texts(runtime: Any) -> list[str]:
    with runtime.db.session() as session:
        return [
            m.text
            for m in session.scalars(select(Message).where(Message.author == "operator").order_by(Message.id))
        ]


def _textarea(page: str) -> str:
    found = re.search(r'<textarea[^>]*id="reply-text"[^>]*>(.*?)</textarea>', page, re.S)
    assert found is not None
    return html.unescape(found.group(1)).strip()


def test_an_858_character_sms_reply_reaches_the_citizen_whole(
    as_dpupr: Any, world: World, runtime: Any, drain: Any, providers: dict[str, Any]
) -> None:
    assert len(LONG_REPLY) == 858
    tracking = _sms_ticket(runtime)
    providers["sms"].sent.clear()
    response = as_dpupr.post(f"/inbox/t/{tracking}/reply", data={"text": LONG_REPLY, "nonce": "long-1"})
    assert response.status_code == 302
    [stored] = _operator_texts(runtime)
    assert stored.endswith(LONG_REPLY.strip()), "the thread must show what was sent, uncut"
    drain()
    sent = [s for s in providers["sms"].sent if LONG_REPLY[:40] in s["text"]]
    assert len(sent) == 1
    assert sent[0]["text"] == stored and not sent[0]["text"].endswith("...")
    assert sent[0]["parts"] == split_segments(stored).count <= 6


def test_a_reply_over_the_operator_segment_cap_is_refused_and_kept(
    as_dpupr: Any, world: World, runtime: Any
) -> None:
    tracking = _sms_ticket(runtime)
    too_long = LONG_REPLY + " " + LONG_REPLY[:200]
    response = as_dpupr.post(f"/inbox/t/{tracking}/reply", data={"text": too_long, "nonce": "long-2"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert _operator_texts(runtime) == []
    assert _textarea(page) == too_long.strip()
    assert "paling banyak 6 SMS" in html.unescape(page)


def test_an_emoji_makes_the_reply_ucs2_and_the_cap_counts_it(
    as_dpupr: Any, world: World, runtime: Any
) -> None:
    tracking = _sms_ticket(runtime)
    text = LONG_REPLY[:500] + " 🙏"
    response = as_dpupr.post(f"/inbox/t/{tracking}/reply", data={"text": text, "nonce": "emoji"})
    assert response.status_code == 400  # 500+ UCS-2 characters need 8 parts of 67
    assert _operator_texts(runtime) == []


@pytest.mark.parametrize(
    ("body", "encoding"),
    [
        ("Baik.", "gsm7"),
        ("x" * 129, "gsm7"),  # with the label, just past one message
        ("Harga {tarif} [baru] ~ €5", "gsm7"),  # extension characters count twice
        ("Terima kasih 🙏", "ucs2"),
        ("Jalan sudah diperbaiki – terima kasih", "ucs2"),  # an en dash is not GSM-7
        (LONG_REPLY, "gsm7"),
    ],
)
def test_the_counter_counts_by_the_rule_that_sends(
    as_dpupr: Any, world: World, runtime: Any, body: str, encoding: str
) -> None:
    from gateway.tickets import reply_budget

    tracking = _sms_ticket(runtime)
    answer = as_dpupr.post(f"/inbox/t/{tracking}/reply-budget.json", data={"text": body}).get_json()
    with runtime.db.session() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.tracking == tracking)).one()
        expected = split_segments(reply_budget.reply_text(runtime.config, ticket, body))
    assert answer["sms"] is True
    assert (
        (answer["encoding"], answer["segments"])
        == (encoding, expected.count)
        == (expected.encoding, expected.count)
    )
    assert answer["max_segments"] == 6 and answer["fits"] is (expected.count <= 6)
    assert f"{expected.count} SMS" in answer["label"]


def test_the_counter_on_whatsapp_counts_characters(as_dpupr: Any, world: World) -> None:
    answer = as_dpupr.post(
        f"/inbox/t/{world.dpupr_ticket}/reply-budget.json", data={"text": "Halo"}
    ).get_json()
    assert answer["sms"] is False and answer["fits"] is True and "karakter" in answer["label"]


def test_the_counter_is_on_the_ticket_page(as_dpupr: Any, world: World, runtime: Any) -> None:
    tracking = _sms_ticket(runtime)
    page = as_dpupr.get(f"/inbox/t/{tracking}").get_data(as_text=True)
    assert 'id="reply-counter"' in page and "data-budget=" in page


def test_a_full_length_whatsapp_reply_is_refused_not_cut(as_dpupr: Any, world: World, runtime: Any) -> None:
    """4,096 characters pass the form, but the label makes it longer than WhatsApp carries."""
    text = "a" * 4096
    response = as_dpupr.post(f"/inbox/t/{world.dpupr_ticket}/reply", data={"text": text, "nonce": "wa"})
    assert response.status_code == 400
    assert _operator_texts(runtime) == []
    assert _textarea(response.get_data(as_text=True)) == text


def test_blank_or_overlong_reply_comes_back_with_the_text_and_the_reason(
    as_dpupr: Any, world: World, runtime: Any
) -> None:
    blank = as_dpupr.post(f"/inbox/t/{world.dpupr_ticket}/reply", data={"text": "   "})
    assert blank.status_code == 400 and "Wajib diisi" in blank.get_data(as_text=True)
    long = as_dpupr.post(f"/inbox/t/{world.dpupr_ticket}/reply", data={"text": "x" * 5000})
    page = html.unescape(long.get_data(as_text=True))
    assert long.status_code == 400
    assert _textarea(page) == "x" * 5000
    assert "Teks: Terlalu panjang (maksimal 4096 karakter)." in page
    # The outcome is shown beside the reply form, not at the top of the page.
    assert page.index('id="actions"') < page.index("flash-error") < page.index('id="reply"')
    assert _operator_texts(runtime) == []


def test_a_mistyped_canned_code_is_refused_with_the_codes(as_dpupr: Any, world: World, runtime: Any) -> None:
    with runtime.db.session() as session:
        session.add(
            CannedResponse(code="survei", title="Survei", text="Petugas akan meninjau.", language="id")
        )
        session.add(CannedResponse(code="selesai", title="Selesai", text="Sudah selesai.", language="id"))
    response = as_dpupr.post(f"/inbox/t/{world.dpupr_ticket}/reply", data={"text": "/tidakada", "nonce": "c"})
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 400
    assert _operator_texts(runtime) == []
    assert "/tidakada" in page and "/selesai, /survei" in page
    assert _textarea(page) == "/tidakada"


def test_a_reply_that_merely_starts_with_a_slash_is_sent(as_dpupr: Any, world: World, runtime: Any) -> None:
    as_dpupr.post(f"/inbox/t/{world.dpupr_ticket}/reply", data={"text": "/ jam 9 pagi", "nonce": "s"})
    assert len(_operator_texts(runtime)) == 1


def _operator_message_html(page: str) -> str:
    found = re.search(r'<li class="msg msg-out author-operator".*?</li>', page, re.S)
    assert found is not None
    return html.unescape(found.group(0))


def test_the_thread_names_who_replied_and_shows_the_label_once(
    as_dpupr: Any, as_coordinator: Any, world: World
) -> None:
    as_dpupr.post(f"/inbox/t/{world.dpupr_ticket}/reply", data={"text": "Besok kami survei.", "nonce": "w"})
    for client in (as_coordinator, as_dpupr):
        item = _operator_message_html(client.get(f"/inbox/t/{world.dpupr_ticket}").get_data(as_text=True))
        assert "Putu PU (DPUPR)" in item
        assert item.count("Balasan petugas") == 1
        text = re.search(r'<div class="msg-text">(.*?)</div>', item, re.S)
        assert text is not None and text.group(1).strip() == "Besok kami survei."


def test_a_refused_action_keeps_its_note_open_in_its_form(as_dpupr: Any, world: World, runtime: Any) -> None:
    """Resolving needs a note; one of 5,000 characters is refused, and comes back in the resolve box."""
    note = "Sudah ditambal. " * 320
    response = as_dpupr.post(
        f"/inbox/t/{world.dpupr_ticket}/action", data={"action": "resolve", "note": note}
    )
    assert response.status_code == 400
    page = html.unescape(response.get_data(as_text=True))
    found = re.search(r'<textarea name="note" id="note-resolve"[^>]*>(.*?)</textarea>', page, re.S)
    assert found is not None and found.group(1) == note
    assert re.search(r'<details class="action" open>\s*<summary>Selesaikan', page)
    other = re.search(r'<textarea[^>]*id="note-start"[^>]*>(.*?)</textarea>', page, re.S)
    assert other is not None and other.group(1).strip() == ""
