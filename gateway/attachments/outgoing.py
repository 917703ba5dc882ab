"""Files we send to a citizen: which channel carries a file as media, and the link the provider fetches.

An outbound message may carry one stored file (``Message.attachments[0]``, a
record with ``stored_path`` and ``content_type``, the way inbound files are kept).
The send job asks `media_url` once it knows the channel and address it really
uses (a WhatsApp notification may fall back to SMS): a channel that shows photos
gets a signed, expiring link (`gateway.attachments.links.signed_url`) to fetch the file
from; any other gets nothing here, and the message's text carries the short link
the sender put there (`gateway.attachments.evidence_links`), so an SMS citizen still opens it.

Only JPEG and PNG go as media: those are what WhatsApp Cloud, Twilio WhatsApp and
Telegram's ``sendPhoto`` all accept as a photo. PDFs (and anything else) stay links
in the text; the adapters send photos, not documents.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from config.settings import Settings
from gateway.attachments.links import signed_url
from gateway.attachments.store import valid_name

#: Content types every media channel shows as a photo.
PHOTO_TYPES: Final = frozenset({"image/jpeg", "image/png"})


def carries_media(channel: str, address: str) -> bool:
    """Whether ``channel`` delivers a photo to ``address`` (Twilio only on WhatsApp, not on SMS)."""
    if channel in ("whatsapp", "telegram"):
        return True
    return channel == "twilio" and address.startswith("whatsapp:")


def media_url(
    settings: Settings, channel: str, address: str, attachments: Sequence[Any] | None
) -> str | None:
    """The signed link to the message's photo when the channel carries it, else None."""
    if not attachments or not carries_media(channel, address):
        return None
    first = attachments[0] if isinstance(attachments[0], dict) else {}
    name = first.get("stored_path")
    if not isinstance(name, str) or not valid_name(name) or first.get("content_type") not in PHOTO_TYPES:
        return None
    return signed_url(settings, name)
