"""The media folder: storing a downloaded attachment by its content, finding whose it is, removing it.

Files are named by the SHA-256 of their content (32 hex digits) and the
extension of their *sniffed* type (`gateway.media_types`), never of the type the
sender declared. A message's attachment records the name as ``stored_path``;
the same file sent twice is stored once and may be referenced by several
messages, so a file is removed only when nothing references it any more.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import String, cast, or_, select
from sqlalchemy.orm import Session

from gateway.media_types import OPAQUE, SNIFF_BYTES, MediaType, sniff
from gateway.models import Message, Ticket

log = logging.getLogger(__name__)

_NAME = re.compile(r"[0-9a-f]{32}\.[a-z0-9]{1,8}")


def valid_name(name: str) -> bool:
    """Whether ``name`` is a stored file's name (no path, nothing to climb out of the folder with)."""
    return bool(_NAME.fullmatch(name))


def store(media_dir: Path, data: bytes) -> tuple[str, MediaType]:
    """Keep ``data``; returns its file name and its sniffed type. Written whole or not at all."""
    kind = sniff(data[:SNIFF_BYTES])
    name = hashlib.sha256(data).hexdigest()[:32] + kind.extension
    media_dir.mkdir(parents=True, exist_ok=True)
    target = media_dir / name
    if not target.exists():
        fd, tmp = tempfile.mkstemp(dir=media_dir, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return name, kind


def stored_type(media_dir: Path, name: str) -> MediaType:
    """A stored file's type, sniffed from its bytes (older files bear the sender's extension)."""
    try:
        with (media_dir / name).open("rb") as handle:
            return sniff(handle.read(SNIFF_BYTES))
    except OSError:
        return OPAQUE


def names_in(attachments: Iterable[Any] | None) -> list[str]:
    """The stored file names among attachment records (JSON dicts)."""
    found = []
    for item in attachments or []:
        name = item.get("stored_path") if isinstance(item, dict) else None
        if isinstance(name, str) and valid_name(name):
            found.append(name)
    return found


def _mentions(column: Any, name: str) -> Any:
    # Names are 32 hex digits and a short extension: no LIKE wildcards to escape.
    return cast(column, String).like(f'%"{name}"%')


def tickets_holding(session: Session, name: str) -> list[Ticket]:
    """Every ticket file ``name`` is attached to: through its messages or its own record."""
    via_messages = select(Message.ticket_id).where(
        Message.ticket_id.is_not(None), _mentions(Message.attachments, name)
    )
    return list(
        session.scalars(select(Ticket).where(or_(Ticket.id.in_(via_messages), _mentions(Ticket.data, name))))
    )


def ticket_files(session: Session, ticket: Ticket) -> list[str]:
    """The stored files of ``ticket``, oldest first, each once: its record's and its messages'."""
    names = names_in((ticket.data or {}).get("attachments"))
    rows = session.scalars(
        select(Message.attachments).where(Message.ticket_id == ticket.id).order_by(Message.id)
    )
    for attachments in rows:
        names.extend(names_in(attachments))
    return list(dict.fromkeys(names))


def detach_contact_media(session: Session, contact_id: int) -> set[str]:
    """Drop the attachment records of a contact's messages and tickets; returns the files they named.

    For erasure and retention: the caller removes the returned files with
    :func:`remove_unreferenced` once this transaction is committed (a file
    another citizen also sent stays).
    """
    names: set[str] = set()
    for message in session.scalars(select(Message).where(Message.contact_id == contact_id)):
        names.update(names_in(message.attachments))
        if message.attachments:
            message.attachments = []
    for ticket in session.scalars(select(Ticket).where(Ticket.contact_id == contact_id)):
        data = dict(ticket.data or {})
        names.update(names_in(data.get("attachments")))
        if data.get("attachments"):
            data["attachments"] = []
            ticket.data = data
    return names


def remove_unreferenced(session: Session, media_dir: Path, names: Iterable[str]) -> int:
    """Delete each named file no message or ticket refers to any more; returns how many went."""
    removed = 0
    for name in set(names):
        if not valid_name(name):
            continue
        still_used = session.scalar(
            select(Message.id).where(_mentions(Message.attachments, name)).limit(1)
        ) or session.scalar(select(Ticket.id).where(_mentions(Ticket.data, name)).limit(1))
        if still_used:
            continue
        try:
            (media_dir / name).unlink()
            removed += 1
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("could not remove a media file", extra={"error": type(exc).__name__})
    return removed
