"""Every job kind a worker runs, in one list: the kind's name and its handler.

The runner imports this module, so a worker has every kind whatever else it imported, and a
kind that is not listed here does not run: its job fails with "no handler". A handler's
shape (plain, transactional, staged) and its options are given where it is defined, in
`gateway.jobs.registry`'s terms; `tests/gateway/test_job_kinds.py` checks that what the
registry holds is exactly this list.
"""

from __future__ import annotations

from gateway.tasks import inbound, media, send
from gateway.tickets import forwarding

KINDS: tuple[tuple[str, object], ...] = (
    ("process_inbound", inbound.process_inbound),  # a webhook's message: the conversation's turn
    ("conversation_timeout", inbound.conversation_timeout),  # a reminder or expiry of a dialogue
    ("send_message", send.SendMessage),  # one outgoing message to its provider
    ("fetch_media", media.fetch_media),  # a photo or file a citizen sent, copied to our store
    ("forward_ticket", forwarding.forward_ticket),  # a ticket delivered to its agency
    ("forward_media", forwarding.forward_media),  # a ticket's evidence delivered to its agency
)
