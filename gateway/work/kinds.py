"""Every job kind a worker runs, in one list: the kind's name and its handler object.

A `gateway.work.runner.JobRunner` builds its lookup from this list (`handlers_of`), so a kind
that is not listed here does not run: its job fails with "no handler". There is no registry
filled by decorators or imports: a test that needs a kind of its own hands the runner this
list plus its own entries. `tests/gateway/test_job_kinds.py` checks that nothing else
registers a kind.
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.tickets import forwarding
from gateway.work.handlers import fetch_media as media
from gateway.work.handlers import send
from gateway.work.handlers import turn as inbound
from gateway.work.registry import FunctionHandler, Handler

Kinds = tuple[tuple[str, Handler], ...]

KINDS: Kinds = (
    ("process_inbound", inbound.ProcessInbound()),  # a webhook's message: the conversation's turn
    ("conversation_timeout", inbound.ConversationTimeout()),  # a reminder or expiry of a dialogue
    ("send_message", send.SendMessage()),  # one outgoing message to its provider
    ("fetch_media", FunctionHandler(media.fetch_media)),  # a citizen's photo or file, copied to our store
    ("forward_ticket", FunctionHandler(forwarding.forward_ticket)),  # a ticket delivered to its agency
    ("forward_media", FunctionHandler(forwarding.forward_media)),  # a ticket's evidence, to its agency
)


def handlers_of(kinds: Iterable[tuple[str, Handler]]) -> dict[str, Handler]:
    """The lookup a runner holds: kind name -> handler. A kind listed twice is a mistake."""
    found: dict[str, Handler] = {}
    for name, handler in kinds:
        if name in found:
            raise ValueError(f"job kind {name!r} listed twice")
        found[name] = handler
    return found
