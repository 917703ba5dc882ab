"""Twilio channel: SMS and WhatsApp through Twilio's Messaging API."""

from adapters.twilio.adapter import ERROR_TABLE, STATUS_TABLE, TwilioAdapter

__all__ = ["ERROR_TABLE", "STATUS_TABLE", "TwilioAdapter"]
