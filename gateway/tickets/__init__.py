"""Tickets: lifecycle transitions, routing, deadlines, forwarding to agencies and citizen updates.

`service` changes tickets (always with an `Actor`), `forwarding` delivers them to
agencies, `sweep` watches deadlines, `notify` tells citizens, `seed` loads agencies
from config. See docs/tickets.md.
"""

# Importing the package registers the forward job and the deadline sweep, so that a
# worker that imports any ticket code can run them.
from gateway.tickets import forwarding, sweep  # noqa: F401  isort: skip
