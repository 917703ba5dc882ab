"""Job handlers. Importing this package registers every job kind.

The ticket package registers `forward_ticket` (and the deadline sweep), so a
worker always has every handler whatever it imported first.
"""

import gateway.tickets  # noqa: F401
from gateway.work.handlers import fetch_media as media  # noqa: F401
from gateway.work.handlers import send  # noqa: F401
from gateway.work.handlers import turn as inbound  # noqa: F401
