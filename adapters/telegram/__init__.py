"""Telegram Bot API channel: see adapter.py."""

from adapters.telegram.adapter import ALLOWED_UPDATES, MEMBER_EVENTS, TelegramAdapter

__all__ = ["ALLOWED_UPDATES", "MEMBER_EVENTS", "TelegramAdapter"]
