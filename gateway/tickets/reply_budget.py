"""Whether an operator's reply reaches the citizen whole, and what it costs on SMS.

An operator's reply used to be fitted to the channel's length by cutting it with
an ellipsis: an 858-character answer reached an SMS citizen as ~480 characters,
and the thread showed the cut text. Now the reply is measured here before it is
queued, and a reply that does not fit is refused with the text kept. The inbox's
live counter asks the same function (``/inbox/t/<tracking>/reply-budget``), so the
operator sees the same count the refusal uses: one rule, in one place.

SMS is counted by `adapters.sms.segments` (GSM-7 or UCS-2, parts of 153/67 units)
against SMS_MAX_OPERATOR_SEGMENTS, whichever provider carries it (the aggregator
on ``sms`` or Twilio on a ``tel:`` address). Other channels are counted in
characters against their adapter's ``max_text_length``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from adapters.sms.adapter import operator_segment_cap
from adapters.sms.segments import split_segments
from conversations.notify import render_operator_reply
from conversations.snapshot import ConfigSnapshot
from gateway.tickets.citizen_updates import max_length

if TYPE_CHECKING:
    from gateway.runtime import Runtime
    from gateway.store.models import Ticket


@dataclass(frozen=True)
class ReplyBudget:
    """A reply as it would be sent: its length, and for SMS its encoding and segments."""

    characters: int  # of the text as sent, with its "Balasan petugas (#...)" label
    max_characters: int | None  # None: only the segments count (SMS through the aggregator)
    sms: bool
    encoding: str | None = None  # gsm7 | ucs2 on SMS
    segments: int = 1
    max_segments: int = 1

    @property
    def fits(self) -> bool:
        if self.max_characters is not None and self.characters > self.max_characters:
            return False
        return not self.sms or self.segments <= self.max_segments

    def as_json(self) -> dict[str, Any]:
        return {
            "characters": self.characters,
            "max_characters": self.max_characters,
            "sms": self.sms,
            "encoding": self.encoding,
            "segments": self.segments,
            "max_segments": self.max_segments,
            "fits": self.fits,
        }


def is_sms(address: str | None) -> bool:
    """A reply to a ``tel:`` address travels as SMS, through the aggregator or Twilio."""
    return bool(address and address.startswith("tel:"))


def reply_text(config: ConfigSnapshot, ticket: Ticket, body: str) -> str:
    """The reply as the citizen receives it: labelled with the ticket, never cut."""
    return render_operator_reply(config, ticket.tracking, body, ticket.language or "id", sys.maxsize)


def operator_segments(runtime: Runtime) -> int:
    adapter = runtime.adapter("sms")
    cap = getattr(adapter, "max_operator_segments", None)
    return int(cap) if cap else operator_segment_cap(runtime.settings.env)


def measure(runtime: Runtime, ticket: Ticket, body: str) -> ReplyBudget:
    """The budget of ``body`` as a reply on ``ticket``'s channel (the body is stripped as sent)."""
    text = reply_text(runtime.config, ticket, body.strip())
    limit = max_length(runtime, ticket.channel)
    if not is_sms(ticket.address):
        return ReplyBudget(characters=len(text), max_characters=limit, sms=False)
    plan = split_segments(text)
    return ReplyBudget(
        characters=len(text),
        max_characters=limit if ticket.channel == "twilio" else None,
        sms=True,
        encoding=plan.encoding,
        segments=plan.count,
        max_segments=operator_segments(runtime),
    )
