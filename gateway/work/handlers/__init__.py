"""Job handlers: the inbound turn, timeouts, sends, media fetches.

Every job kind is listed in `gateway.work.kinds`; importing this package registers nothing.
"""

import gateway.tickets  # noqa: F401
from gateway.work.handlers import fetch_media as media  # noqa: F401
from gateway.work.handlers import send  # noqa: F401
from gateway.work.handlers import turn as inbound  # noqa: F401
