"""The media job: download a message's attachments with the channel's credentials and keep them.

Provider media URLs expire (WhatsApp's within minutes) and need credentials, so
operators would see nothing if we only kept the link.
"""

from __future__ import annotations

import hashlib
import mimetypes
from typing import Any

from adapters.base import Attachment, SendError
from gateway.jobs import RetryLater, handler
from gateway.models import Message
from gateway.runtime import Runtime

MAX_MEDIA_BYTES = 16 * 1024 * 1024


@handler("fetch_media")
def fetch_media(runtime: Runtime, payload: dict[str, Any]) -> None:
    message_id = int(payload["message_id"])
    with runtime.db.session() as session:
        message = session.get(Message, message_id)
        if message is None:
            return
        channel, attachments = message.channel, list(message.attachments or [])
    adapter = runtime.adapter(channel)
    if adapter is None:
        return
    media_dir = runtime.settings.media_dir
    media_dir.mkdir(parents=True, exist_ok=True)
    changed = False
    for item in attachments:
        if item.get("stored_path"):
            continue
        attachment = Attachment(**{k: v for k, v in item.items() if k in Attachment.__dataclass_fields__})
        try:
            data, content_type = adapter.fetch_media(attachment)
        except SendError as exc:
            if exc.retryable:
                raise RetryLater(f"media download failed: {exc.reason}", 30)
            item["fetch_error"] = exc.reason
            changed = True
            continue
        except NotImplementedError:
            return
        if len(data) > MAX_MEDIA_BYTES:
            item["fetch_error"] = "too large"
            changed = True
            continue
        digest = hashlib.sha256(data).hexdigest()
        ext = (
            mimetypes.guess_extension((content_type or item.get("content_type") or "").split(";")[0])
            or ".bin"
        )
        name = f"{digest[:32]}{ext}"
        (media_dir / name).write_bytes(data)
        item["stored_path"] = name
        item["content_type"] = content_type or item.get("content_type")
        item["size"] = len(data)
        changed = True
    if changed:
        with runtime.db.session() as session:
            message = session.get(Message, message_id)
            if message is not None:
                message.attachments = attachments
