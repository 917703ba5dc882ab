"""Job handlers. Importing this package registers every job kind.

The ticket package registers `forward_ticket` (and the deadline sweep), so a
worker always has every handler whatever it imported first.
"""

import gateway.tickets  # noqa: F401
from gateway.tasks import inbound, media, send  # noqa: F401
