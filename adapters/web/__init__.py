"""The citizens' web form (``/lapor``) as a channel: its submission as a normalized message.

There is no provider and no webhook: the gateway's own form posts the fields, and this
module turns them into the same `InboundMessage` every other channel produces, so the
submission is stored, deduplicated and processed like an SMS. What only a form has (the
place as typed, the privacy choice, an optional category, where updates go) travels in
``raw["form"]``, the message's own payload, and is read back with `form_of`.

Addresses:

* ``web:<form id>`` a citizen who left no number: their own contact, told nothing after
  the page (they follow the ticket at ``/lacak``). `is_page_address` names them.
* ``tel:+62…`` / ``whatsapp:+62…`` a citizen who wants updates by SMS or WhatsApp: the
  submission joins the contact of that number, and replies go out on that channel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapters.base import Attachment, InboundMessage, Location

CHANNEL = "web"
PAGE_PREFIX = "web:"
#: Where a web citizen may ask to hear back, and the address scheme of each.
UPDATE_SCHEMES: Mapping[str, str] = {"sms": "tel", "whatsapp": "whatsapp"}


@dataclass(frozen=True)
class WebForm:
    """The fields of a submission that are not a message's own (text, pin, photo)."""

    place: str = ""
    privacy: str | None = None  # public | anonymous | confidential; None: not chosen
    category: str | None = None  # a category code, or None: guessed from the text
    updates: str = "none"  # none | sms | whatsapp

    def to_dict(self) -> dict[str, Any]:
        return {
            "place": self.place,
            "privacy": self.privacy,
            "category": self.category,
            "updates": self.updates,
        }


def is_page_address(address: str | None) -> bool:
    """True for the address of a web citizen who left no number: nobody to send anything to."""
    return bool(address) and str(address).startswith(PAGE_PREFIX)


def sender_for(form_id: str, updates: str, phone: str | None) -> str:
    """The submission's sender: the citizen's number on the channel they chose, else the form's own."""
    scheme = UPDATE_SCHEMES.get(updates)
    if scheme is not None and phone:
        return f"{scheme}:{phone}"
    return PAGE_PREFIX + form_id


def form_message(
    form_id: str,
    sender: str,
    description: str,
    form: WebForm,
    *,
    location: Location | None = None,
    attachments: tuple[Attachment, ...] = (),
    language: str | None = None,
    sent_at: datetime | None = None,
) -> InboundMessage:
    """One submission as a normalized message; ``form_id`` (the form token's id) is its provider id,
    so a form sent twice (a double tap, a reload after a slow answer) is stored once."""
    return InboundMessage(
        channel=CHANNEL,
        provider_message_id=form_id,
        sender=sender,
        text=description,
        kind="text",
        attachments=attachments,
        location=location,
        timestamp=sent_at,
        language=language,
        raw={"form": form.to_dict()},
    )


def form_of(message: InboundMessage) -> WebForm | None:
    """The form fields of a web submission; None for any other message."""
    if message.channel != CHANNEL:
        return None
    fields = (message.raw or {}).get("form")
    if not isinstance(fields, Mapping):
        return None
    privacy = fields.get("privacy")
    category = fields.get("category")
    return WebForm(
        place=str(fields.get("place") or ""),
        privacy=str(privacy) if privacy else None,
        category=str(category) if category else None,
        updates=str(fields.get("updates") or "none"),
    )
