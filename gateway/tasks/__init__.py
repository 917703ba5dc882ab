"""Job handlers. Importing this package registers every job kind."""

from gateway.tasks import inbound, media, send  # noqa: F401
