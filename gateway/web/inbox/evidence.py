"""Evidence with the follow-up ("bukti tindak lanjut"): photos or a PDF an operator sends the citizen.

Checked the way citizens' files are: the type is sniffed from the bytes against
the allowlist (`gateway.attachments.content_types.sniff`), never taken from the name or the
declared type, and the file is kept by its hash (`gateway.attachments.store.store`).
Only photos and PDFs are evidence; anything else, or a file over
``LAPOR_EVIDENCE_MAX_BYTES`` (default 10 MB), refuses the whole upload before
anything is stored or sent.

Each file goes to the citizen as its own outbound message, queued like any
operator reply (`gateway.messages.outgoing.queue_message`, ``notification`` purpose, so
the send job handles a closed WhatsApp window). Its text always carries a short
signed link (`gateway.attachments.evidence_links`); on a channel that shows photos the send
job also attaches the photo (`gateway.attachments.outgoing`). One rule for every
channel, so a WhatsApp update that falls back to SMS still reaches the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage
from werkzeug.utils import secure_filename

from gateway.attachments.content_types import GIF, JPEG, PDF, PNG, SNIFF_BYTES, WEBP, MediaType, sniff
from gateway.attachments.evidence_links import short_url
from gateway.attachments.store import store
from gateway.messages.outgoing import queue_message
from gateway.runtime import Runtime
from gateway.store.models import Contact, Message, Ticket
from gateway.tickets import service

#: What may be sent as evidence: photos and PDFs (no audio, video or opaque files).
EVIDENCE_TYPES: Final = (JPEG, PNG, WEBP, GIF, PDF)
DEFAULT_MAX_BYTES: Final = 10 * 1024 * 1024
#: Files per upload; the request's size limit is this many files at most.
MAX_FILES: Final = 5


class EvidenceRefused(Exception):
    """An upload that is not evidence; ``key`` names the operator's text (``evidence.<key>``)."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


@dataclass(frozen=True)
class Evidence:
    """One accepted file, not yet stored."""

    data: bytes
    kind: MediaType
    filename: str


def max_bytes(runtime: Runtime) -> int:
    try:
        return max(1, int(runtime.settings.get("LAPOR_EVIDENCE_MAX_BYTES") or DEFAULT_MAX_BYTES))
    except ValueError:
        return DEFAULT_MAX_BYTES


def request_limit(runtime: Runtime) -> int:
    """The largest upload request to parse: every file at its limit, plus the form around them."""
    return MAX_FILES * max_bytes(runtime) + 256 * 1024


def accept(runtime: Runtime, uploads: Iterable[FileStorage]) -> list[Evidence]:
    """The uploaded files as evidence, or EvidenceRefused for the first one that is not."""
    limit = max_bytes(runtime)
    found: list[Evidence] = []
    for upload in uploads:
        if not upload or not upload.filename:
            continue
        data = upload.stream.read(limit + 1)
        name = secure_filename(upload.filename)[:120] or "bukti"
        if len(data) > limit:
            raise EvidenceRefused("too_big", name=name, mb=round(limit / 1_048_576, 1))
        kind = sniff(data[:SNIFF_BYTES])
        if kind not in EVIDENCE_TYPES:
            raise EvidenceRefused("bad_type", name=name)
        found.append(Evidence(data, kind, name))
    if len(found) > MAX_FILES:
        raise EvidenceRefused("too_many", max=MAX_FILES)
    return found


def may_message(session: Session, ticket: Ticket) -> bool:
    """Whether the citizen can be sent anything: an address to reach, and no STOP."""
    if not ticket.channel or not ticket.address:
        return False
    contact = session.get(Contact, ticket.contact_id) if ticket.contact_id is not None else None
    return not (contact is not None and contact.opted_out)


def send_evidence(
    session: Session,
    runtime: Runtime,
    ticket: Ticket,
    actor: service.Actor,
    files: list[Evidence],
    *,
    nonce: str,
    caption: Any,
) -> list[Message]:
    """Store ``files`` and queue one message per file to the citizen; idempotent on ``nonce``.

    ``caption(index, total, link)`` words the message's text in the ticket's language.
    """
    if not files or not may_message(session, ticket):
        return []
    assert ticket.channel and ticket.address
    queued: list[Message] = []
    for index, item in enumerate(files, start=1):
        name, kind = store(runtime.settings.media_dir, item.data)
        message = queue_message(
            session,
            channel=ticket.channel,
            address=ticket.address,
            text="",
            contact_id=ticket.contact_id,
            dedupe_key=f"evidence:{ticket.id}:{nonce}:{index}",
            ticket_id=ticket.id,
            author="operator",
            operator_id=actor.id if actor.kind == "operator" else None,
            purpose="notification",
            language=ticket.language,
        )
        if message.attachments:
            queued.append(message)  # the same upload again (a double click): queued once
            continue
        message.kind = "image" if kind.mime.startswith("image/") else "document"
        message.attachments = [
            {
                "kind": message.kind,
                "stored_path": name,
                "content_type": kind.mime,
                "filename": item.filename,
                "size": len(item.data),
            }
        ]
        message.text = caption(index, len(files), short_url(runtime.settings, message.id))
        queued.append(message)
    return queued
