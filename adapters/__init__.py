"""Channel adapters, one package per provider, listed here explicitly.

The gateway looks adapters up by channel name through `adapter_class`; an entry
is a dotted path so that one channel's optional import cost is paid only when
that channel is used.
"""

from __future__ import annotations

import importlib

from adapters.base import ChannelAdapter

# channel name -> "module:Class". The channel name is what messages, the
# `simulate` command and the webhook routes use.
ADAPTERS: dict[str, str] = {
    "sms": "adapters.sms:SmsAdapter",
    "twilio": "adapters.twilio:TwilioAdapter",
    "whatsapp": "adapters.whatsapp:WhatsAppCloudAdapter",
    "telegram": "adapters.telegram:TelegramAdapter",
}


def adapter_class(channel: str) -> type[ChannelAdapter]:
    """The adapter class for a channel name; KeyError for an unknown channel."""
    module_name, _, class_name = ADAPTERS[channel].partition(":")
    return getattr(importlib.import_module(module_name), class_name)
