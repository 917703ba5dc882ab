"""Comparing a normalized message with a table case's expected fields, shared by the adapter tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from adapters.base import InboundMessage

# Extra expected keys a channel's table can use: key -> check(message, value).
ExtraChecks = dict[str, Callable[[InboundMessage, Any], None]]


def check_message(
    message: InboundMessage, expected: dict[str, Any], extra: ExtraChecks | None = None
) -> None:
    """Assert every expected field.

    ``attachment`` and ``location`` compare attributes, ``text_length`` the text's length.
    """
    for key, value in expected.items():
        if extra and key in extra:
            extra[key](message, value)
        elif key == "attachment":
            assert len(message.attachments) == 1
            for attr, attr_value in value.items():
                assert getattr(message.attachments[0], attr) == attr_value, attr
        elif key == "location":
            assert message.location is not None
            for attr, attr_value in value.items():
                assert getattr(message.location, attr) == attr_value, attr
        elif key == "text_length":
            assert len(message.text) == value
        else:
            assert getattr(message, key) == value, key
