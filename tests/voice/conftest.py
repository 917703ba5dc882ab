"""The ticket factory of the ticket tests, for the voice tests that need a ticket without a dialogue."""

from tests.tickets.conftest import make_ticket  # noqa: F401
