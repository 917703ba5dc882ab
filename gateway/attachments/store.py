"""Media storage: keeping a downloaded attachment by its content, finding whose it is, removing it.

Files are named by the SHA-256 of their content (32 hex digits) and the
extension of their *sniffed* type (`gateway.attachments.content_types`), never of the type the
sender declared. A message's attachment records the name as ``stored_path``;
the same file sent twice is stored once and may be referenced by several
messages, so a file is removed only when nothing references it any more.

Where the bytes live is a `MediaBackend`: a folder (`FilesystemMedia`, the default, under
``LAPOR_DATA_DIR/media``), or an S3-compatible bucket (`S3Media`: AWS S3, MinIO, Ceph, a
city's object store) so that several web hosts and workers share one store
(``LAPOR_MEDIA_BACKEND=s3``; see docs/operations.md, "Media"). `media_backend(settings)`
picks it; every function here takes a backend (or a folder, for the filesystem).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import String, cast, or_, select
from sqlalchemy.orm import Session

from gateway.attachments.content_types import OPAQUE, SNIFF_BYTES, MediaType, sniff
from gateway.store.models import Message, Ticket

log = logging.getLogger(__name__)

_NAME = re.compile(r"[0-9a-f]{32}\.[a-z0-9]{1,8}")


def valid_name(name: str) -> bool:
    """Whether ``name`` is a stored file's name (no path, nothing to climb out of the folder with)."""
    return bool(_NAME.fullmatch(name))


class MediaBackend(Protocol):
    """Where stored files live. Names are checked (`valid_name`) before they reach a backend."""

    def exists(self, name: str) -> bool: ...

    def put(self, name: str, data: bytes) -> None:
        """Keep ``data`` under ``name``, whole or not at all."""

    def get(self, name: str) -> bytes | None:
        """The file's bytes; None when it is gone."""

    def head(self, name: str, size: int) -> bytes | None:
        """The file's first ``size`` bytes (to sniff its type); None when it is gone."""

    def delete(self, name: str) -> bool:
        """Remove the file; False when it was not there."""


class FilesystemMedia:
    """Files in one folder (``LAPOR_DATA_DIR/media``): one host, or a shared mount."""

    def __init__(self, media_dir: Path) -> None:
        self.media_dir = Path(media_dir)

    def path(self, name: str) -> Path:
        return self.media_dir / name

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def put(self, name: str, data: bytes) -> None:
        self.media_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.media_dir, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, self.path(name))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, name: str) -> bytes | None:
        try:
            return self.path(name).read_bytes()
        except FileNotFoundError:
            return None

    def head(self, name: str, size: int) -> bytes | None:
        try:
            with self.path(name).open("rb") as handle:
                return handle.read(size)
        except FileNotFoundError:
            return None

    def delete(self, name: str) -> bool:
        try:
            self.path(name).unlink()
            return True
        except FileNotFoundError:
            return False


class S3Media:
    """Files as objects of an S3-compatible bucket, under ``prefix``: every web host and worker
    sees the same files. Needs boto3 (``pip install 'lapor-gateway[s3]'``)."""

    def __init__(self, bucket: str, prefix: str = "media/", client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.client = client

    def key(self, name: str) -> str:
        return self.prefix + name

    def _missing(self, exc: Exception) -> bool:
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        return code in ("404", "NoSuchKey", "NotFound")

    def exists(self, name: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(name))
            return True
        except Exception as exc:
            if self._missing(exc):
                return False
            raise

    def put(self, name: str, data: bytes) -> None:
        # One PUT is atomic: the object appears whole or not at all.
        self.client.put_object(Bucket=self.bucket, Key=self.key(name), Body=data)

    def _read(self, name: str, byte_range: str | None) -> bytes | None:
        extra = {"Range": byte_range} if byte_range else {}
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.key(name), **extra)
        except Exception as exc:
            if self._missing(exc):
                return None
            raise
        return bytes(answer["Body"].read())

    def get(self, name: str) -> bytes | None:
        return self._read(name, None)

    def head(self, name: str, size: int) -> bytes | None:
        return self._read(name, f"bytes=0-{max(0, size - 1)}")

    def delete(self, name: str) -> bool:
        if not self.exists(name):
            return False
        self.client.delete_object(Bucket=self.bucket, Key=self.key(name))
        return True


MediaPlace = Path | MediaBackend
_S3_CLIENTS: dict[tuple[str, ...], Any] = {}
_S3_LOCK = threading.Lock()


def media_backend(settings: Any) -> MediaBackend:
    """The store ``settings`` name: ``LAPOR_MEDIA_BACKEND`` ``filesystem`` (default) or ``s3``
    (``LAPOR_MEDIA_S3_BUCKET``, ``LAPOR_MEDIA_S3_PREFIX``, ``LAPOR_MEDIA_S3_ENDPOINT_URL``,
    ``LAPOR_MEDIA_S3_REGION``; credentials ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` or
    the host's role)."""
    env: Mapping[str, str] = settings.env
    kind = (env.get("LAPOR_MEDIA_BACKEND") or "filesystem").strip().lower()
    if kind in ("", "filesystem", "fs", "file"):
        return FilesystemMedia(settings.media_dir)
    if kind != "s3":
        raise ValueError(f"LAPOR_MEDIA_BACKEND must be 'filesystem' or 's3', not {kind!r}")
    bucket = env.get("LAPOR_MEDIA_S3_BUCKET") or ""
    if not bucket:
        raise ValueError("LAPOR_MEDIA_BACKEND=s3 needs LAPOR_MEDIA_S3_BUCKET")
    options = (
        env.get("LAPOR_MEDIA_S3_ENDPOINT_URL") or "",
        env.get("LAPOR_MEDIA_S3_REGION") or env.get("AWS_DEFAULT_REGION") or "",
        env.get("AWS_ACCESS_KEY_ID") or "",
        env.get("AWS_SECRET_ACCESS_KEY") or "",
    )
    with _S3_LOCK:  # a client per configuration and process (making one costs ~0.1 s)
        client = _S3_CLIENTS.get(options)
        if client is None:
            client = _S3_CLIENTS[options] = _s3_client(*options)
    return S3Media(bucket, env.get("LAPOR_MEDIA_S3_PREFIX", "media/"), client)


def _s3_client(endpoint: str, region: str, key_id: str, secret: str) -> Any:
    try:
        import boto3
    except ImportError as exc:
        raise RuntimeError("LAPOR_MEDIA_BACKEND=s3 needs boto3: pip install 'lapor-gateway[s3]'") from exc
    return boto3.client(
        "s3",
        endpoint_url=endpoint or None,
        region_name=region or None,
        aws_access_key_id=key_id or None,
        aws_secret_access_key=secret or None,
    )


def as_backend(where: MediaPlace) -> MediaBackend:
    """A backend for ``where``: itself, or the folder's `FilesystemMedia`."""
    return FilesystemMedia(where) if isinstance(where, Path) else where


def store(where: MediaPlace, data: bytes) -> tuple[str, MediaType]:
    """Keep ``data``; returns its file name and its sniffed type. Written whole or not at all."""
    backend = as_backend(where)
    kind = sniff(data[:SNIFF_BYTES])
    name = hashlib.sha256(data).hexdigest()[:32] + kind.extension
    if not backend.exists(name):
        backend.put(name, data)
    return name, kind


def stored_type(where: MediaPlace, name: str) -> MediaType:
    """A stored file's type, sniffed from its bytes (older files bear the sender's extension)."""
    try:
        head = as_backend(where).head(name, SNIFF_BYTES)
    except OSError:
        return OPAQUE
    return OPAQUE if head is None else sniff(head)


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


def remove_unreferenced(session: Session, where: MediaPlace, names: Iterable[str]) -> int:
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
            removed += as_backend(where).delete(name)
        except Exception as exc:  # the store is down: the file stays, as an unreferenced orphan
            log.warning("could not remove a media file", extra={"error": type(exc).__name__})
    return removed
