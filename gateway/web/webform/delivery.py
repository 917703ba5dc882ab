"""Where a message to a web citizen goes: the one rule, used by the send job and the notifications.

The form's citizen chose how to hear back (docs/channels.md, "Web form"): by SMS or WhatsApp
to the number they gave, which is the address their submission was stored under, or not at
all (a ``web:`` address). Messages to them are stored on channel ``web`` like any reply; the
send job asks here which provider channel carries them, the way the rest of the gateway picks
a channel for a walk-in citizen's number: the aggregator before Twilio for SMS, the Cloud API
before Twilio for WhatsApp.
"""

from __future__ import annotations

from typing import Any

from adapters.web import CHANNEL, is_page_address

#: Provider channels for each address scheme a web citizen may leave, in order of preference.
_CARRIERS: dict[str, tuple[str, ...]] = {"tel:": ("sms", "twilio"), "whatsapp:": ("whatsapp", "twilio")}

#: Why a message to a web citizen without a number is not sent (shown to operators).
NO_ADDRESS_REASON = "the citizen left no number on the web form; they follow the ticket at /lacak"


def carrier(runtime: Any, channel: str, address: str) -> str:
    """The channel that delivers a message stored on ``channel`` to ``address``: itself, except
    for the web channel, where the address's scheme decides (``web`` again when none is on)."""
    if channel != CHANNEL:
        return channel
    for prefix, carriers in _CARRIERS.items():
        if address.startswith(prefix):
            for name in carriers:
                if runtime.adapter(name) is not None:
                    return name
    return channel


def shown_on_page(channel: str, address: str, author: str | None) -> bool | None:
    """For a message to a web citizen who left no number: True when the form's page shows it (the
    bot's answer to the submission), False when nobody can read it (an operator's reply); None
    for every other message."""
    if channel != CHANNEL or not is_page_address(address):
        return None
    return (author or "bot") == "bot"
