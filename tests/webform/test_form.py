"""``/lapor``: the web form as a fourth channel, through the real store, worker and providers.

A submission is a normalized ``web`` message (dedup by the form's id), the worker's engine
files it in one step, and the receipt shows the tracking number; updates reach a citizen who
left a number on the SMS or WhatsApp stand-in, and the same citizen can go on by SMS.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from adapters import adapter_class
from gateway.store.models import Message, Ticket
from tests.webform.conftest import complaint, tracking_in

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82"
)


def _count(runtime: Any, model: Any, *where: Any) -> int:
    with runtime.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _receipt(client: Any, drain: Any, data: dict[str, Any], **kw: Any) -> tuple[str, str]:
    """Post the form, let the worker run, read the receipt: (receipt URL, its HTML)."""
    res = client.post("/lapor", data=data, **kw)
    assert res.status_code == 303, res.get_data(as_text=True)
    drain()
    page = client.get(res.headers["Location"])
    assert page.status_code == 200, page.get_data(as_text=True)
    return res.headers["Location"], page.get_data(as_text=True)


def test_the_form_works_without_javascript_in_both_languages(client: Any) -> None:
    page = client.get("/lapor")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'method="post"' in html and 'enctype="multipart/form-data"' in html
    for name in ("description", "place", "photo", "privacy", "updates", "phone", "token", "website"):
        assert f'name="{name}"' in html
    assert "Kirim laporan" in html
    assert "geolocation=(self)" in page.headers["Permissions-Policy"]  # this page may ask for it
    english = client.get("/lapor?lang=en").get_data(as_text=True)
    assert "Send complaint" in english and 'name="lang" value="en"' in english


def test_a_complete_form_becomes_a_ticket_in_one_pass(
    client: Any, runtime: Any, drain: Any, token: Any
) -> None:
    url, html = _receipt(client, drain, complaint(token(), privacy="public"))
    tracking = tracking_in(html)
    assert "Simpan nomor ini" in html and f"/lacak/{tracking}" in html
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
        assert ticket is not None
        assert (ticket.channel, ticket.privacy, ticket.category) == ("web", "public", "penerangan")
        assert ticket.location_text == "Jl. Kenanga 5, Kel. Sukamaju"
        assert ticket.agency_id is not None  # routed like any other complaint
        inbound = session.scalars(select(Message).where(Message.direction == "in")).all()
        assert [(m.channel, m.ticket_id) for m in inbound] == [("web", ticket.id)]
        answers = session.scalars(select(Message).where(Message.direction == "out")).all()
        # The engine's answer is what the receipt shows: "delivered" on the page, sent to no provider.
        assert answers and all(m.delivery_status == "delivered" for m in answers)
    assert f"#{tracking}" in html.split("Pesan untuk Anda")[1]
    assert client.get(f"/lacak/{tracking}").status_code == 200
    assert client.get(url).get_data(as_text=True).count(tracking) >= 2  # the receipt stays readable


def test_the_same_form_sent_twice_is_one_complaint(client: Any, runtime: Any, drain: Any, token: Any) -> None:
    data = complaint(token())
    first = client.post("/lapor", data=data)
    second = client.post("/lapor", data=data)  # a double tap, or the browser resending
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    drain()
    assert _count(runtime, Message, Message.direction == "in") == 1
    assert _count(runtime, Ticket) == 1


def test_english_form_files_an_english_ticket(client: Any, runtime: Any, drain: Any, token: Any) -> None:
    data = complaint(token(), lang="en", description="Garbage has piled up at the Sukamaju market for a week")
    url, html = _receipt(client, drain, data)
    assert "?lang=en" in url
    assert "Your tracking number" in html and "Thank you, your complaint is filed" in html
    with runtime.db.session() as session:
        assert session.scalar(select(Ticket.language)) == "en"


def test_updates_by_sms_and_the_citizen_goes_on_by_sms(
    client: Any, runtime: Any, drain: Any, token: Any, providers: dict[str, Any]
) -> None:
    """Two channels, one citizen: the form's number gets the confirmation and the status changes
    by SMS, and an SMS from that number asks the status of the web complaint as its own."""
    from gateway.web.api.auth import create_token

    data = complaint(token(), updates="sms", phone="0812-3456-7001")
    _url, html = _receipt(client, drain, data)
    tracking = tracking_in(html)
    assert "lewat SMS" in html
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
        assert ticket is not None and (ticket.channel, ticket.address) == ("web", "tel:+6281234567001")
        confirmation = session.scalar(select(Message).where(Message.direction == "out"))
        assert confirmation is not None
        assert (confirmation.channel, confirmation.delivery_status) == ("sms", "sent")
    assert any(tracking in r.body.decode() for r in providers["sms"].requests)
    with runtime.db.session() as session:
        _, api = create_token(session, "city-system")
    res = client.post(
        f"/api/v1/tickets/{tracking}/status",
        json={"status": "dispatched", "agency": "dishub"},
        headers={"Authorization": f"Bearer {api}"},
    )
    assert res.status_code == 200, res.get_data(as_text=True)
    drain()
    with runtime.db.session() as session:
        update = session.scalars(
            select(Message).where(Message.direction == "out").order_by(Message.id.desc())
        ).first()
        assert update is not None and update.channel == "sms" and update.delivery_status == "sent"
        assert tracking in update.text
    sms = adapter_class("sms").from_env(runtime.settings.env)
    req = sms.simulate("081234567001", f"STATUS {tracking}")
    assert (
        client.open(req.path, method=req.method, headers=dict(req.headers), data=req.body).status_code == 200
    )
    drain()
    with runtime.db.session() as session:
        answer = session.scalars(
            select(Message).where(Message.direction == "out").order_by(Message.id.desc())
        ).first()
        assert answer is not None and tracking in answer.text and "tidak" not in answer.text.lower()


def test_updates_by_whatsapp(
    client: Any, runtime: Any, drain: Any, token: Any, providers: dict[str, Any]
) -> None:
    _url, html = _receipt(client, drain, complaint(token(), updates="whatsapp", phone="+62 812 3456 7002"))
    assert "lewat WhatsApp" in html
    with runtime.db.session() as session:
        confirmation = session.scalar(select(Message).where(Message.direction == "out"))
        assert confirmation is not None and confirmation.channel == "whatsapp"
        assert confirmation.address == "whatsapp:+6281234567002"


def test_a_photo_is_kept_like_any_channels_photo(client: Any, runtime: Any, drain: Any, token: Any) -> None:
    data = complaint(token(), photo=(io.BytesIO(PNG), "jalan.png"))
    _url, html = _receipt(client, drain, data, content_type="multipart/form-data")
    tracking = tracking_in(html)
    with runtime.db.session() as session:
        row = session.scalar(select(Message).where(Message.direction == "in"))
        assert row is not None
        [photo] = row.attachments
        assert photo["content_type"] == "image/png" and photo["stored_path"].endswith(".png")
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
        assert ticket is not None and row.ticket_id == ticket.id


@pytest.mark.parametrize(
    ("upload", "error"),
    [
        (b"<html><script>alert(1)</script></html>", "bukan foto"),  # declared .jpg, is a page
        (b"%PDF-1.7 a document, not a photo", "bukan foto"),
    ],
)
def test_a_file_that_is_not_a_photo_is_refused(
    client: Any, runtime: Any, token: Any, upload: bytes, error: str
) -> None:
    data = complaint(token(), photo=(io.BytesIO(upload), "foto.jpg"))
    res = client.post("/lapor", data=data, content_type="multipart/form-data")
    assert res.status_code == 400
    html = res.get_data(as_text=True)
    assert error in html
    assert "Lampu penerangan jalan mati" in html  # what the citizen wrote is kept
    assert _count(runtime, Message) == 0


def test_missing_fields_are_named_and_nothing_is_stored(client: Any, runtime: Any, token: Any) -> None:
    res = client.post("/lapor", data=complaint(token(), description="rusak", place="", privacy=""))
    html = res.get_data(as_text=True)
    assert res.status_code == 400
    assert "paling sedikit" in html and "Tulis lokasinya" in html and "Pilih siapa" in html
    res = client.post("/lapor", data=complaint(token(), updates="sms", phone="12"))
    assert res.status_code == 400 and "Nomor HP tidak valid" in res.get_data(as_text=True)
    assert _count(runtime, Message) == 0


def test_a_browser_location_is_a_place(client: Any, runtime: Any, drain: Any, token: Any) -> None:
    _url, html = _receipt(client, drain, complaint(token(), place="", lat="-6.914744", lon="107.609810"))
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking_in(html)))
        assert ticket is not None and ticket.latitude == pytest.approx(-6.914744)
    res = client.post("/lapor", data=complaint(token(), lat="91", lon="200"))
    assert res.status_code == 400 and "tidak terbaca" in res.get_data(as_text=True)


def test_the_honeypot_turns_a_script_away(client: Any, runtime: Any, token: Any) -> None:
    res = client.post("/lapor", data=complaint(token(), website="http://spam.example"))
    assert res.status_code == 400
    assert _count(runtime, Message) == 0


def test_the_form_token_must_be_signed_neither_too_fresh_nor_too_old(
    client: Any, runtime: Any, token: Any
) -> None:
    fresh = token(age=0)
    res = client.post("/lapor", data=complaint(fresh))
    assert res.status_code == 400 and "terlalu cepat" in res.get_data(as_text=True)
    assert f'value="{fresh}"' in res.get_data(as_text=True)  # pressed again later, the same form passes
    res = client.post("/lapor", data=complaint(token(age=3 * 3600)))
    assert res.status_code == 400 and "terlalu lama" in res.get_data(as_text=True)
    forged = token()[:-3] + "abc"
    for bad in (forged, "", "x" * 500):
        res = client.post("/lapor", data=complaint(bad))
        assert res.status_code == 400 and "tidak dapat diterima" in res.get_data(as_text=True)
    assert _count(runtime, Message) == 0


def test_per_number_limit(client: Any, runtime: Any, drain: Any, token: Any) -> None:
    for _ in range(5):
        res = client.post("/lapor", data=complaint(token(), updates="sms", phone="081234567077"))
        assert res.status_code == 303
        drain()
    res = client.post("/lapor", data=complaint(token(), updates="whatsapp", phone="+6281234567077"))
    assert res.status_code == 429
    assert "sudah mengirim banyak laporan" in res.get_data(as_text=True)
    assert _count(runtime, Ticket) == 5


def test_per_address_limit(client: Any, runtime: Any, token: Any) -> None:
    for _ in range(10):
        assert client.post("/lapor", data=complaint(token(), description="")).status_code == 400
    res = client.post("/lapor", data=complaint(token()))
    assert res.status_code == 429
    assert "Terlalu banyak laporan dari jaringan ini" in res.get_data(as_text=True)
    other = client.post("/lapor", data=complaint(token()), environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert other.status_code == 303  # another network is not held back
    assert _count(runtime, Message) == 1


def test_a_receipt_asked_for_before_the_worker_ran_refreshes_itself(
    client: Any, runtime: Any, drain: Any, token: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(runtime.settings.env, "LAPOR_WEBFORM_WAIT_SECONDS", "0")
    res = client.post("/lapor", data=complaint(token()))
    pending = client.get(res.headers["Location"])
    assert pending.status_code == 202 and pending.headers["Refresh"] == "3"
    assert "sedang diproses" in pending.get_data(as_text=True)
    drain()
    done = client.get(res.headers["Location"])
    assert done.status_code == 200 and re.search(r"#\d{8}", done.get_data(as_text=True))
    forged = client.get("/lapor/diterima/not-a-receipt")
    assert forged.status_code == 404


def test_an_emergency_gets_the_numbers_on_the_page(client: Any, runtime: Any, drain: Any, token: Any) -> None:
    data = complaint(token(), description="Kebakaran rumah di gang Mawar, api besar, tolong cepat datang")
    _url, html = _receipt(client, drain, data)
    assert "113" in html  # the fire brigade's number, from config/emergency.yaml
    tracking = tracking_in(html)
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
        assert ticket is not None and (ticket.data or {}).get("emergency")
