"""Evidence with the follow-up ("bukti tindak lanjut"): photos or a PDF sent to the citizen.

Files go through the real send job to the loopback stand-ins; each stand-in must
receive a link it can fetch (a signed, expiring one on media channels, a short
signed one in the text on SMS), and fetching it must give back the very bytes.
"""

from __future__ import annotations

import io
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from gateway.devtools.loopback.twilio import PNG_PIXEL
from gateway.store.models import AuditEntry, Contact, ContactAddress, Message, Ticket, utcnow
from tests.inbox.conftest import World, file_ticket

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
HTML_AS_PNG = b"<html><script>alert(1)</script></html>"


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _open_window(runtime: Any, address: str) -> None:
    """The citizen wrote recently: WhatsApp's 24-hour window is open, so media may go."""
    with runtime.db.session() as session:
        row = session.scalar(select(ContactAddress).where(ContactAddress.address == address))
        assert row is not None
        row.last_inbound_at = utcnow()


def _post(client: Any, tracking: str, files: list[tuple[bytes, str]], **form: Any) -> Any:
    data: dict[str, Any] = {"text": "Lubang sudah ditambal, terlampir fotonya.", "nonce": "ev-1", **form}
    data["files"] = [(io.BytesIO(content), name) for content, name in files]
    return client.post(f"/inbox/t/{tracking}/evidence", data=data, content_type="multipart/form-data")


def _new_ticket(runtime: Any, address: str, channel: str) -> str:
    with runtime.db.session() as session:
        ticket = file_ticket(
            session,
            runtime,
            text="Jalan rusak di gang melati",
            category="jalan",
            address=address,
            dispose_to="dpupr",
        )
        ticket.channel = channel
        contact_address = session.scalar(select(ContactAddress).where(ContactAddress.address == address))
        assert contact_address is not None
        contact_address.channel = channel
        return ticket.tracking


def test_whatsapp_cloud_gets_the_photo_as_a_signed_link_it_can_fetch(
    as_dpupr: Any, world: World, runtime: Any, providers: Any, client: Any, drain: Any
) -> None:
    _open_window(runtime, "whatsapp:+6281234567890")
    response = _post(as_dpupr, world.dpupr_ticket, [(PNG_PIXEL, "foto.png")])
    assert response.status_code == 302
    drain()
    images = [m for m in providers["whatsapp"].sent_messages() if m.get("type") == "image"]
    assert len(images) == 1
    link = images[0]["image"]["link"]
    assert "sig=" in link and "exp=" in link
    fetched = client.get(_path(link))
    assert fetched.status_code == 200 and fetched.data == PNG_PIXEL
    # The file is on the operator's message, shown in the thread like any attachment.
    with runtime.db.session() as session:
        # JSON has no equality on PostgreSQL: filter in Python.
        rows = [
            r for r in session.scalars(select(Message).where(Message.author == "operator")) if r.attachments
        ]
        assert any(r.attachments[0].get("stored_path") for r in rows)
        assert session.scalar(select(AuditEntry).where(AuditEntry.action == "ticket.evidence")) is not None


def test_twilio_whatsapp_and_telegram_receive_the_media_url(
    as_dpupr: Any, world: World, runtime: Any, providers: Any, client: Any, drain: Any
) -> None:
    twilio_ticket = _new_ticket(runtime, "whatsapp:+6281300000099", "twilio")
    _open_window(runtime, "whatsapp:+6281300000099")
    telegram_ticket = _new_ticket(runtime, "telegram:777001", "telegram")
    assert _post(as_dpupr, twilio_ticket, [(PNG_PIXEL, "a.png")]).status_code == 302
    assert _post(as_dpupr, telegram_ticket, [(PNG_PIXEL, "b.png")], nonce="ev-2").status_code == 302
    drain()
    [media_url] = [url for sent in providers["twilio"].sent for url in sent["media_urls"]]
    assert client.get(_path(media_url)).data == PNG_PIXEL
    [photo] = providers["telegram"].calls("sendPhoto")
    assert client.get(_path(str(photo["photo"]))).data == PNG_PIXEL


def test_sms_gets_a_short_signed_link_in_the_text(
    as_dpupr: Any, world: World, runtime: Any, providers: Any, client: Any, drain: Any
) -> None:
    tracking = _new_ticket(runtime, "tel:+6281300000077", "sms")
    assert _post(as_dpupr, tracking, [(PDF, "berita-acara.pdf")]).status_code == 302
    drain()
    texts = [sent["text"] for sent in providers["sms"].sent]
    links = [link for text in texts for link in re.findall(r"https?://\S+", text)]
    assert len(links) == 1
    assert len(links[0]) <= len(runtime.settings.public_base_url) + 40  # short enough for an SMS
    opened = client.get(_path(links[0]))
    assert opened.status_code == 200 and opened.data == PDF
    # Tampered or foreign links open nothing.
    assert client.get(_path(links[0][:-2] + "00")).status_code == 404


def test_pdf_on_whatsapp_is_linked_in_the_text(
    as_dpupr: Any, world: World, runtime: Any, providers: Any, drain: Any
) -> None:
    _open_window(runtime, "whatsapp:+6281234567890")
    assert _post(as_dpupr, world.dpupr_ticket, [(PDF, "ba.pdf")]).status_code == 302
    drain()
    sent = providers["whatsapp"].sent_messages()
    assert not [m for m in sent if m.get("type") == "image"]
    assert any("/b/" in (m.get("text") or {}).get("body", "") for m in sent)


@pytest.mark.parametrize(
    ("content", "name", "key"),
    [
        (HTML_AS_PNG, "foto.png", "evidence.bad_type"),
        (b"\xff\xd8\xff" + b"0" * 2000, "big.jpg", "evidence.too_big"),
    ],
)
def test_refused_files_are_neither_stored_nor_sent(
    as_dpupr: Any, world: World, runtime: Any, content: bytes, name: str, key: str
) -> None:
    runtime.settings.env["LAPOR_EVIDENCE_MAX_BYTES"] = "1000"
    response = _post(as_dpupr, world.dpupr_ticket, [(content, name)])
    assert response.status_code == 400
    with runtime.db.session() as session:
        assert session.scalar(select(Message).where(Message.author == "operator")) is None
    media_dir = runtime.settings.media_dir
    assert not media_dir.exists() or not any(media_dir.iterdir())


def test_resolution_with_evidence_resolves_and_sends_the_file(
    as_dpupr: Any, world: World, runtime: Any, providers: Any, drain: Any
) -> None:
    _open_window(runtime, "whatsapp:+6281234567890")
    as_dpupr.post(f"/inbox/t/{world.dpupr_ticket}/action", data={"action": "start"})
    response = _post(as_dpupr, world.dpupr_ticket, [(PNG_PIXEL, "done.png")], resolve="1")
    assert response.status_code == 302
    drain()
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == world.dpupr_ticket))
        assert ticket is not None and ticket.status == "resolved"
    assert [m for m in providers["whatsapp"].sent_messages() if m.get("type") == "image"]


def test_another_agency_cannot_send_evidence_on_a_ticket(as_dlh: Any, world: World, runtime: Any) -> None:
    assert _post(as_dlh, world.dpupr_ticket, [(PNG_PIXEL, "x.png")]).status_code == 404


def test_opted_out_citizen_gets_nothing(as_dpupr: Any, world: World, runtime: Any) -> None:
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == world.dpupr_ticket))
        assert ticket is not None
        contact = session.get(Contact, ticket.contact_id)
        assert contact is not None
        contact.opted_out = True
    assert _post(as_dpupr, world.dpupr_ticket, [(PNG_PIXEL, "x.png")]).status_code == 302
    with runtime.db.session() as session:
        assert session.scalar(select(Message).where(Message.author == "operator")) is None


def test_the_thread_page_offers_the_evidence_form(as_dpupr: Any, world: World) -> None:
    page = as_dpupr.get(f"/inbox/t/{world.dpupr_ticket}").get_data(as_text=True)
    assert f'action="/inbox/t/{world.dpupr_ticket}/evidence"' in page
    assert 'enctype="multipart/form-data"' in page


def test_evidence_text_is_not_taken_for_a_reply_sent_from_the_same_page(
    as_dpupr: Any, world: World, runtime: Any
) -> None:
    """Both forms carry the page's nonce: the evidence's message must not dedupe against the reply."""
    as_dpupr.post(f"/inbox/t/{world.dpupr_ticket}/reply", data={"text": "Kami cek besok.", "nonce": "page-1"})
    _post(as_dpupr, world.dpupr_ticket, [(PNG_PIXEL, "a.png")], nonce="page-1")
    with runtime.db.session() as session:
        texts = [m.text for m in session.scalars(select(Message).where(Message.author == "operator"))]
    assert any("Kami cek besok." in t for t in texts)
    assert any("Lubang sudah ditambal" in t for t in texts)
