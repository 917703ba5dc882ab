"""Fixtures shared with other test packages: tickets filed as the conversation would file them."""

from tests.tickets.conftest import make_ticket  # noqa: F401 - a fixture, used by name
