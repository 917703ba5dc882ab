"""The media job: download a message's attachments with the channel's credentials and keep them.

Provider media URLs expire (WhatsApp's within minutes) and need credentials, so
operators would see nothing if we only kept the link. What a file is comes from
its bytes (`gateway.attachments.store.store`), not from the type the sender declared:
that type is kept as ``declared_type`` for the record only.
"""

from __future__ import annotations

from typing import Any

from adapters.base import Attachment, SendError
from gateway.attachments.store import media_backend, names_in, remove_unreferenced, store
from gateway.runtime import Runtime
from gateway.store.models import Message
from gateway.work import RetryLater

MAX_MEDIA_BYTES = 16 * 1024 * 1024


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
    media_dir = media_backend(runtime.settings)
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
        name, kind = store(media_dir, data)
        item["stored_path"] = name
        item["declared_type"] = content_type or item.get("content_type")
        item["content_type"] = kind.mime
        item["size"] = len(data)
        changed = True
    if changed:
        with runtime.db.session() as session:
            message = session.get(Message, message_id)
            if message is not None and message.attachments:
                message.attachments = attachments
                from gateway.tickets.forwarding import schedule_media_update

                schedule_media_update(session, message)  # a photo sent after the forward
                return
        # Erased (or deleted) while we downloaded: keep nothing of it.
        with runtime.db.session() as session:
            remove_unreferenced(session, media_dir, names_in(attachments))
