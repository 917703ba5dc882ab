"""Citizens' files: typed by their content, served sandboxed, and only to whom they may go.

Files arrive the real way: a signed WhatsApp Cloud API notification of a
document or image, then the media job downloads it from the Meta stand-in
(which answers with whatever type the "citizen" declared).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from gateway.attachments.links import signed_url
from gateway.devtools.loopback.meta import signed_body
from gateway.store.models import Agency, Contact, ContactAddress, Message, Ticket
from gateway.tickets import service
from tests.inbox.conftest import login, make_operator

APP_SECRET = "meta-app-secret"
PHONE_NUMBER_ID = "106540352242922"
WA_ID = "6281234567890"

# A real (tiny) JPEG header: what a phone camera's file starts with.
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
SCRIPT = b"fetch('/inbox/admin/operators',{method:'POST'})"
HTML = b"<!doctype html><html><body><script>" + SCRIPT + b"</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>' + SCRIPT + b"</script></svg>"
XHTML = (
    b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><script>' + SCRIPT + b"</script></html>"
)
JS = SCRIPT

HOSTILE = [
    pytest.param(HTML, "text/html", "document", id="html-as-html"),
    pytest.param(HTML, "image/jpeg", "image", id="html-as-jpeg"),
    pytest.param(SVG, "image/svg+xml", "document", id="svg"),
    pytest.param(SVG, "image/png", "image", id="svg-as-png"),
    pytest.param(JS, "application/javascript", "document", id="javascript"),
    pytest.param(XHTML, "application/xhtml+xml", "document", id="xhtml"),
    pytest.param(b"\xff\xfe" + HTML.decode().encode("utf-16-le"), "image/jpeg", "image", id="utf16-html"),
]
DANGEROUS_TYPES = ("text/html", "image/svg+xml", "application/xhtml+xml", "text/javascript")


# --------------------------------------------------------------------------- arriving
def whatsapp_file(client: Any, providers: Any, drain: Any, content: bytes, declared: str, kind: str) -> int:
    """A citizen sends a file on WhatsApp; the media job fetches it. Returns the message id."""
    media_id = str(uuid.uuid4().int)[:16]
    providers["whatsapp"].add_media(media_id, content, declared)
    body: dict[str, Any] = {
        "id": media_id,
        "mime_type": declared,
        "sha256": hashlib.sha256(content).hexdigest(),
    }
    if kind == "document":
        body["filename"] = "bukti." + declared.rsplit("/", 1)[-1].split("+")[0]
    wamid = "wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABIYFjNFQjA" + uuid.uuid4().hex[:12].upper()
    notification = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": PHONE_NUMBER_ID,
                            },
                            "contacts": [{"profile": {"name": "Siti Warga"}, "wa_id": WA_ID}],
                            "messages": [
                                {
                                    "from": WA_ID,
                                    "id": wamid,
                                    "timestamp": str(int(time.time())),
                                    "type": kind,
                                    kind: body,
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    raw, signature = signed_body(APP_SECRET, notification)
    res = client.post(
        "/webhooks/whatsapp",
        data=raw,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature},
    )
    assert res.status_code == 200
    drain()
    return _message_id(client.application.extensions["lapor"], wamid)


def _message_id(runtime: Any, wamid: str) -> int:
    with runtime.db.session() as session:
        message = session.scalar(select(Message).where(Message.provider_message_id == wamid))
        assert message is not None
        return message.id


def stored(runtime: Any, message_id: int) -> dict[str, Any]:
    with runtime.db.session() as session:
        message = session.get(Message, message_id)
        assert message is not None and message.attachments, "the media job kept nothing"
        item = dict(message.attachments[0])
    assert item.get("stored_path"), item
    return item


def attach_ticket(runtime: Any, message_id: int, *, status: str, privacy: str) -> str:
    """File the message's thread as a ticket: ``dispatched`` (disposed to DPUPR) or left ``unverified``."""
    with runtime.db.session() as session:
        message = session.get(Message, message_id)
        assert message is not None
        contact = session.get(Contact, message.contact_id)
        ticket = service.create_ticket(
            session,
            runtime,
            contact=contact,
            description="Jalan berlubang di depan SD 3",
            category="jalan",
            privacy=privacy,
            privacy_chosen=True,
            channel="whatsapp",
            address=f"whatsapp:+{WA_ID}",
        )
        message.ticket_id = ticket.id
        if status == "dispatched":
            # Disposed by a person: only a verified ticket's files are public.
            coordinator = service.Actor(kind="operator", id=None, role="coordinator", label="Koordinator")
            service.transition(session, runtime, ticket, "dispose", coordinator, agency="dpupr")
        assert ticket.status == status
        return ticket.tracking


@pytest.fixture
def as_admin(app: Any, runtime: Any) -> Any:
    with runtime.db.session() as session:
        make_operator(session, "admin@example.id", "admin", None, "Ani Admin")
    client = app.test_client()
    assert login(client, "admin@example.id").status_code == 302
    return client


def assert_sandboxed(res: Any) -> None:
    assert res.headers["X-Content-Type-Options"] == "nosniff"
    csp = res.headers["Content-Security-Policy"]
    assert "sandbox" in csp and "default-src 'none'" in csp
    assert "script-src" not in csp and "'self'" not in csp


def assert_download_only(res: Any) -> None:
    assert res.status_code == 200
    assert res.mimetype == "application/octet-stream"
    assert res.headers["Content-Disposition"].startswith("attachment")
    assert (
        not res.headers["Content-Disposition"].split("filename=")[-1].strip('"').endswith((".html", ".svg"))
    )
    assert_sandboxed(res)


# --------------------------------------------------------------------------- what it is
@pytest.mark.parametrize(("content", "declared", "kind"), HOSTILE)
def test_script_bearing_file_is_never_served_as_a_page(
    client: Any,
    as_admin: Any,
    runtime: Any,
    providers: Any,
    drain: Any,
    content: bytes,
    declared: str,
    kind: str,
) -> None:
    message_id = whatsapp_file(client, providers, drain, content, declared, kind)
    item = stored(runtime, message_id)
    assert item["stored_path"].endswith(".bin")
    assert item["content_type"] == "application/octet-stream"
    assert item["declared_type"] == declared  # kept for the record, never obeyed
    assert (runtime.settings.media_dir / item["stored_path"]).read_bytes() == content
    attach_ticket(runtime, message_id, status="dispatched", privacy="anonymous")

    for res in (as_admin.get(f"/inbox/media/{message_id}/0"), client.get(f"/media/{item['stored_path']}")):
        assert_download_only(res)
        assert res.mimetype not in DANGEROUS_TYPES
        assert res.data == content


@pytest.mark.parametrize("declared", ["image/jpeg", "text/html", "application/octet-stream"])
def test_allowlisted_photo_is_served_inline_sandboxed(
    client: Any, as_admin: Any, runtime: Any, providers: Any, drain: Any, declared: str
) -> None:
    message_id = whatsapp_file(client, providers, drain, JPEG, declared, "image")
    item = stored(runtime, message_id)
    assert item["stored_path"].endswith(".jpg") and item["content_type"] == "image/jpeg"
    attach_ticket(runtime, message_id, status="dispatched", privacy="anonymous")

    for res in (as_admin.get(f"/inbox/media/{message_id}/0"), client.get(f"/media/{item['stored_path']}")):
        assert res.status_code == 200
        assert res.mimetype == "image/jpeg"
        assert "attachment" not in res.headers.get("Content-Disposition", "")
        assert_sandboxed(res)
        assert res.data == JPEG


@pytest.mark.parametrize(
    ("name_ext", "content"),
    [pytest.param(e, c, id=e) for e, c in ((".html", HTML), (".svg", SVG), (".xhtml", XHTML), (".js", JS))],
)
def test_file_kept_before_sniffing_under_a_page_name_is_only_a_download(
    client: Any, as_admin: Any, runtime: Any, providers: Any, drain: Any, name_ext: str, content: bytes
) -> None:
    """Files the old job stored carry the sender's extension: the name must not decide how they are served."""
    message_id = whatsapp_file(client, providers, drain, JPEG, "image/jpeg", "image")
    attach_ticket(runtime, message_id, status="dispatched", privacy="anonymous")
    legacy = hashlib.sha256(content).hexdigest()[:32] + name_ext
    (runtime.settings.media_dir / legacy).write_bytes(content)
    with runtime.db.session() as session:
        message = session.get(Message, message_id)
        assert message is not None
        message.attachments = [{"kind": "document", "content_type": "text/html", "stored_path": legacy}]

    for res in (as_admin.get(f"/inbox/media/{message_id}/0"), client.get(f"/media/{legacy}")):
        assert_download_only(res)
        assert res.data == content


# --------------------------------------------------------------------------- who gets it
def _photo(client: Any, runtime: Any, providers: Any, drain: Any, content: bytes = JPEG) -> tuple[int, str]:
    message_id = whatsapp_file(client, providers, drain, content, "image/jpeg", "image")
    return message_id, stored(runtime, message_id)["stored_path"]


def test_unsigned_media_of_a_verified_public_ticket_is_served(
    client: Any, runtime: Any, providers: Any, drain: Any
) -> None:
    message_id, name = _photo(client, runtime, providers, drain)
    attach_ticket(runtime, message_id, status="dispatched", privacy="public")
    assert client.get(f"/media/{name}").status_code == 200


def test_unsigned_media_of_a_confidential_ticket_is_404(
    client: Any, runtime: Any, providers: Any, drain: Any
) -> None:
    message_id, name = _photo(client, runtime, providers, drain)
    attach_ticket(runtime, message_id, status="dispatched", privacy="confidential")
    assert client.get(f"/media/{name}").status_code == 404


def test_unsigned_media_of_an_unverified_ticket_is_404(
    client: Any, runtime: Any, providers: Any, drain: Any
) -> None:
    message_id, name = _photo(client, runtime, providers, drain)
    attach_ticket(runtime, message_id, status="unverified", privacy="public")
    assert client.get(f"/media/{name}").status_code == 404


def test_unsigned_media_of_no_ticket_is_404(client: Any, runtime: Any, providers: Any, drain: Any) -> None:
    _message_id, name = _photo(client, runtime, providers, drain)
    assert client.get(f"/media/{name}").status_code == 404


def test_unknown_or_odd_names_are_404(client: Any, runtime: Any) -> None:
    assert client.get("/media/" + "c" * 32 + ".png").status_code == 404
    assert client.get("/media/..%2Fsecret_key").status_code == 404
    assert client.get("/media/secret_key").status_code == 404


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_signed_link_opens_a_confidential_tickets_file_until_it_expires(
    client: Any, runtime: Any, providers: Any, drain: Any
) -> None:
    message_id, name = _photo(client, runtime, providers, drain)
    attach_ticket(runtime, message_id, status="dispatched", privacy="confidential")
    url = signed_url(runtime.settings, name)
    assert url.startswith(f"{runtime.settings.public_base_url}/media/{name}?")
    res = client.get(_path(url))
    assert res.status_code == 200 and res.data == JPEG
    assert_sandboxed(res)

    expired = signed_url(runtime.settings, name, now=time.time() - runtime.settings.media_url_ttl - 5)
    assert client.get(_path(expired)).status_code == 403


def test_tampered_or_moved_signature_is_refused(
    client: Any, runtime: Any, providers: Any, drain: Any
) -> None:
    message_id, name = _photo(client, runtime, providers, drain)
    attach_ticket(runtime, message_id, status="unverified", privacy="confidential")
    other_id, other = _photo(client, runtime, providers, drain, JPEG + b"another photo")
    attach_ticket(runtime, other_id, status="unverified", privacy="confidential")
    path = _path(signed_url(runtime.settings, name))
    query = urlsplit(path).query
    expires = dict(p.split("=") for p in query.split("&"))["exp"]
    signature = dict(p.split("=") for p in query.split("&"))["sig"]
    later = str(int(expires) + 86400)
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    for bad in (
        f"/media/{name}?exp={later}&sig={signature}",  # stretched
        f"/media/{name}?exp={expires}&sig={flipped}",  # tampered
        f"/media/{other}?{query}",  # moved to another file
        f"/media/{name}?exp={expires}",
        f"/media/{name}?exp=%C2%B2&sig={signature}",  # a Unicode digit
        f"/media/{name}?exp={expires}&sig=%C3%A9" + "0" * 62,  # not ASCII
        f"/media/{name}?exp=99999999999999999999&sig={signature}",
    ):
        assert client.get(bad).status_code == 403, bad
    assert client.get(path).status_code == 200


def test_another_secret_key_does_not_open_the_file(
    client: Any, runtime: Any, providers: Any, drain: Any
) -> None:
    from dataclasses import replace

    message_id, name = _photo(client, runtime, providers, drain)
    attach_ticket(runtime, message_id, status="dispatched", privacy="confidential")
    forged = signed_url(replace(runtime.settings, secret_key="someone-elses-key"), name)
    assert client.get(_path(forged)).status_code == 403


def test_forward_document_carries_signed_links_that_open(
    client: Any, runtime: Any, providers: Any, drain: Any
) -> None:
    """The file the media job kept on the ticket's message reaches the agency as a signed link."""
    from gateway.tickets import forwarding

    message_id, name = _photo(client, runtime, providers, drain)
    tracking = attach_ticket(runtime, message_id, status="dispatched", privacy="confidential")
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
        agency = session.scalar(select(Agency).where(Agency.code == "dpupr"))
        document = forwarding.ticket_document(session, runtime, ticket, agency)
    [url] = document["media_urls"]
    assert url.startswith(f"{runtime.settings.public_base_url}/media/{name}?exp=")
    assert "sig=" in url
    assert client.get(f"/media/{name}").status_code == 404  # unsigned: confidential
    assert client.get(_path(url)).status_code == 200


# --------------------------------------------------------------------------- retention
def test_retention_deletes_the_contacts_files(
    client: Any, runtime: Any, providers: Any, drain: Any, settings: Any
) -> None:
    from dataclasses import replace
    from datetime import timedelta

    from gateway.privacy.retention import apply_retention
    from gateway.runtime import Runtime
    from gateway.store.models import utcnow

    message_id, name = _photo(client, runtime, providers, drain)
    shared_id, shared = _photo(client, runtime, providers, drain, JPEG + b"sent by two citizens")
    tracking = attach_ticket(runtime, message_id, status="dispatched", privacy="public")
    old = utcnow() - timedelta(days=30 * 25)
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
        assert ticket is not None
        ticket.status, ticket.closed_at = "resolved", old
        ticket.data = {**(ticket.data or {}), "attachments": [{"kind": "image", "stored_path": name}]}
        for message in session.scalars(select(Message)):
            message.created_at = old
        # Another citizen sent the very same second file: it must stay for them.
        neighbour = Contact(display_name="Tetangga")
        session.add(neighbour)
        session.flush()
        session.add(ContactAddress(contact_id=neighbour.id, address="tel:+6281299990000", channel="sms"))
        session.add(
            Message(
                direction="in",
                channel="sms",
                address="tel:+6281299990000",
                contact_id=neighbour.id,
                kind="image",
                attachments=[{"kind": "image", "content_type": "image/jpeg", "stored_path": shared}],
            )
        )
    assert (runtime.settings.media_dir / name).exists() and shared_id

    rt = Runtime(replace(settings, retention_months=24))
    try:
        assert apply_retention(rt) == 1
    finally:
        rt.close()
    assert not (runtime.settings.media_dir / name).exists()
    assert (runtime.settings.media_dir / shared).exists()
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
        assert ticket is not None and not (ticket.data or {}).get("attachments")
        assert session.get(Message, message_id).attachments == []  # type: ignore[union-attr]


# --------------------------------------------------------------------------- the same hole nearby: Open311
def test_open311_publishes_only_our_public_media_link(
    client: Any, runtime: Any, providers: Any, drain: Any
) -> None:
    """Open311's public ``media_url`` was the provider's (credentialed) link or any link a submitter gave."""
    message_id, name = _photo(client, runtime, providers, drain)
    tracking = attach_ticket(runtime, message_id, status="dispatched", privacy="public")
    provider_link = "https://api.twilio.com/2010-04-01/Accounts/AC" + "1" * 32 + "/Messages/MM1/Media/ME1"
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == tracking))
        assert ticket is not None
        ticket.data = {**(ticket.data or {}), "attachments": [{"kind": "image", "url": provider_link}]}
    [item] = client.get(f"/open311/v2/requests/{tracking}.json").get_json()
    assert item["media_url"] == f"{runtime.settings.public_base_url}/media/{name}"
    assert client.get(_path(item["media_url"] + "?")).status_code == 200

    other_id, _other = _photo(client, runtime, providers, drain, JPEG + b"second")
    confidential = attach_ticket(runtime, other_id, status="dispatched", privacy="confidential")
    [hidden] = client.get(f"/open311/v2/requests/{confidential}.json").get_json()
    assert "media_url" not in hidden or hidden["media_url"] is None


def test_contact_erase_deletes_the_contacts_files(
    client: Any, runtime: Any, providers: Any, drain: Any
) -> None:
    from click.testing import CliRunner

    from gateway.cli import main

    message_id, name = _photo(client, runtime, providers, drain)
    attach_ticket(runtime, message_id, status="dispatched", privacy="public")
    assert (runtime.settings.media_dir / name).exists()
    out = CliRunner().invoke(
        main, ["contact", "erase", f"whatsapp:+{WA_ID}", "--yes"], env=dict(runtime.settings.env)
    )
    assert out.exit_code == 0, out.output
    assert not (runtime.settings.media_dir / name).exists()
    assert client.get(f"/media/{name}").status_code == 404
