"""Tickets: lifecycle transitions, routing, deadlines, forwarding to agencies and citizen updates.

`service` changes tickets (always with an `Actor`), `forwarding` delivers them to
agencies, `sweep` watches deadlines, `notify` tells citizens, `seed` loads agencies
from config. See docs/tickets.md.
"""
