"""Job handlers: one protocol, in batches, for every kind.

Which kinds exist, and which handler object runs each, is one explicit list:
`gateway.work.kinds.KINDS`. This module holds no registry: the `JobRunner` builds its lookup
from the list it is handed (tests hand it the list plus kinds of their own).

Every handler has the same five steps, and every step takes a list: a single job is a batch
of one, so there is no second, single-row form of any step to keep equal by hand.

1. ``read(runtime, session, payloads) -> [seen]``: a first look in a read-only transaction.
   On SQLite it takes no write lock, so deciding (running the conversation engine, choosing a
   send's channel) does not hold up the other writers. A kind claimed one job at a time is
   read before the claim (the job is still ``pending`` while it is read); a batched kind
   (``batch`` above one) is claimed first and read after, so that two workers draining one
   backlog never read the same jobs.
2. ``begin(runtime, session, [(payload, seen)]) -> [state | None]``: applies what ``read``
   decided with conditional writes (what was seen may have changed since), in the transaction
   that claims the jobs (for a batched kind, in one right after its read; none at all when
   the kind keeps the default, which writes nothing). None means nothing is left to do and
   the job is done with it.
3. ``start(runtime, [state])``: outside any transaction, right before the calls of the states
   that start together: marks durably that they may reach the other side (one write for all).
4. ``act(runtime, state) -> outcome``: outside any transaction, one job (a provider call).
   It may raise `RetryLater` or `GiveUp`, or any error (a failed attempt).
5. ``end(runtime, session, [(state, outcome)]) -> [result]``: in the transaction that marks
   the jobs done, one result per item: None (done), a `RetryLater` (run again, in the same
   transaction as the work), an exception (this job's attempt failed: its work must be
   rolled back, for example in a savepoint of its own), or `AGAIN` (not reached in this
   transaction: the runner commits and hands it to ``end`` again in the next one, which keeps
   a transaction on SQLite's single write lock short).

Why one protocol: the claim is committed before ``act``, so a worker killed mid-call is
recognised (claimed but not started was never attempted, see gateway/work/handlers/send.py); the
work of a database-only kind is done in ``end``, in the transaction that ends its job, so
nothing is half done if the worker dies; and one commit serves a whole batch. Every handler
must be safe to run twice: the outbox guarantees at-least-once, never exactly-once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final


class RetryLater(Exception):
    """Raise (or, from ``end``, return) to run the job again after ``delay`` seconds.

    ``counts`` False means the retry does not use up an attempt (for example a
    per-contact lock held by another job), so a busy contact never exhausts a job.
    """

    def __init__(self, reason: str, delay: float, *, counts: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay
        self.counts = counts


class GiveUp(Exception):
    """Raise from a handler when trying again cannot help; the job is marked failed."""


class _Again:
    def __repr__(self) -> str:
        return "AGAIN"


AGAIN: Final = _Again()
"""A result of ``end``: this job was not reached in this transaction; hand it to ``end`` again."""

Result = RetryLater | BaseException | _Again | None

# How long one ``end`` transaction of a batch may run before it answers `AGAIN` for the rest:
# on SQLite it holds the single write lock, and the webhooks' acks wait behind it.
BATCH_TRANSACTION_SECONDS = 0.01


class Handler:
    """A job kind's handler (see the module's docstring); the defaults do nothing, so a kind
    overrides only the steps it needs. ``batch``: up to this many due jobs of the kind are
    claimed together by one worker (one rq round trip and one commit for a backlog)."""

    batch: int = 1

    def read(self, runtime: Any, session: Any, payloads: list[dict[str, Any]]) -> list[Any]:
        return [None] * len(payloads)

    def begin(self, runtime: Any, session: Any, jobs: list[tuple[dict[str, Any], Any]]) -> list[Any]:
        """Default: nothing to claim besides the job; the state is ``(payload, seen)``."""
        return list(jobs)

    def start(self, runtime: Any, states: list[Any]) -> None:
        """Default: nothing to mark (a kind whose ``act`` calls nobody)."""

    def act(self, runtime: Any, state: Any) -> Any:
        return None

    def end(self, runtime: Any, session: Any, done: list[tuple[Any, Any]]) -> list[Result]:
        return [None] * len(done)


class FunctionHandler(Handler):
    """A kind whose work is one function ``fn(runtime, payload)`` that opens its own
    transactions (a download, a forward to an agency): it is the ``act`` step."""

    def __init__(self, fn: Callable[[Any, dict[str, Any]], None]) -> None:
        self.fn = fn

    def act(self, runtime: Any, state: tuple[dict[str, Any], Any]) -> None:
        self.fn(runtime, state[0])
