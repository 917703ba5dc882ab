"""Job kinds and their handlers.

Three shapes (see below): a plain handler ``fn(runtime, payload)``, a transactional one,
and a staged one. Every handler must be safe to run twice: the outbox guarantees
at-least-once, never exactly-once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

HandlerFn = Callable[[Any, dict[str, Any]], None]
HANDLERS: dict[str, HandlerFn] = {}

# A transactional handler is ``fn(runtime, session, payload, seen) -> RetryLater | None``: it does
# all its work in the session the runner gives it, and the runner marks the job done (or
# reschedules it, when it returns a RetryLater) in that same transaction. One commit per
# job instead of three (claim, work, finish), and nothing half-done if the worker dies.
# Only for handlers that talk to nothing but the database (no provider call).
#
# An optional ``read(runtime, session, payload)`` runs first in a read-only transaction (on
# SQLite: without the write lock) and its result reaches the handler as ``seen``; the handler
# must check, in its own transaction, that what it saw still holds.
TransactionalFn = Callable[[Any, Any, dict[str, Any], Any], "RetryLater | None"]
ReadFn = Callable[[Any, Any, dict[str, Any]], Any]
TRANSACTIONAL: dict[str, TransactionalFn] = {}
TRANSACTIONAL_READS: dict[str, ReadFn] = {}
# An optional ``read_many(runtime, session, [payload]) -> [seen]`` is ``read`` for a whole
# batch, in order (one query per kind of row instead of several per job).
ReadManyFn = Callable[[Any, Any, list[dict[str, Any]]], list[Any]]
TRANSACTIONAL_READ_MANY: dict[str, ReadManyFn] = {}
# An optional ``many(runtime, session, [(job_id, payload, seen)]) -> [job_id]`` does the usual
# case of a whole batch at once (one statement per kind of row instead of several per job)
# and returns the ids of the jobs it did; the runner runs it in a savepoint, undoes it on
# any error, ends the jobs it did together, and runs the others one by one.
ManyFn = Callable[[Any, Any, list[tuple[int, dict[str, Any], Any]]], list[int]]
TRANSACTIONAL_MANY: dict[str, ManyFn] = {}


# A staged handler talks to a provider between two transactions: ``read`` (optional) looks
# without the write lock, ``begin(runtime, session, payload, seen)`` runs in the transaction
# that claims the job and returns what ``act(runtime,
# state)`` needs (None: nothing to do, the job is done); ``start_many`` marks, once for the
# calls that start together, that they are about to begin; ``act`` runs outside any
# transaction (the provider call); ``end(runtime, session, state, outcome)`` runs in the
# transaction that marks the job done. The claim is committed before the provider is called,
# so a worker killed mid-call is recognised: claimed but not marked was never attempted,
# marked may have been (see gateway/work/handlers/send.py).
class StagedHandler:
    def read(self, runtime: Any, session: Any, payload: dict[str, Any]) -> Any:
        """Optional first look, in a read-only transaction before the claim: on SQLite it takes no
        write lock, so reading and deciding do not hold up the other writers. ``begin`` gets
        the result and must re-check, with conditional writes, what may have changed since."""
        return None

    def read_many(self, runtime: Any, session: Any, payloads: list[dict[str, Any]]) -> list[Any]:
        """``read`` for several jobs in one read-only transaction, results in the same order.

        A worker claims the sends a batch recorded together (`gateway.work.local_batch`);
        override to read them with one statement instead of one each. Must decide exactly
        as ``read`` would for each payload."""
        return [self.read(runtime, session, payload) for payload in payloads]

    def begin(self, runtime: Any, session: Any, payload: dict[str, Any], seen: Any) -> Any:
        raise NotImplementedError

    def begin_many(self, runtime: Any, session: Any, items: list[tuple[dict[str, Any], Any]]) -> list[Any]:
        """``begin`` for several (payload, seen) pairs in one claim transaction, results in order.

        Override to apply the decisions with fewer statements; each result must be what
        ``begin`` would have returned for its pair, and a job whose row changed since it was
        seen must not start (the conditional writes of ``begin`` still decide)."""
        return [self.begin(runtime, session, payload, seen) for payload, seen in items]

    def start_many(self, runtime: Any, states: list[Any]) -> None:
        """Record durably that the ``act`` of each of ``states`` is about to begin: called after the
        claim committed and right before the calls, outside any transaction, once for all the
        states whose calls start together (one write for a batch, not one per job).

        The claim alone then means "claimed, never attempted", which is safe to do again;
        only what was marked here may have reached the other side. Default: nothing to mark."""

    def act(self, runtime: Any, state: Any) -> Any:
        raise NotImplementedError

    def end(self, runtime: Any, session: Any, state: Any, outcome: Any) -> None:
        raise NotImplementedError

    def end_many(self, runtime: Any, session: Any, done: list[tuple[Any, Any]]) -> None:
        """``end`` for several (state, outcome) pairs in one transaction; override to batch."""
        for state, outcome in done:
            self.end(runtime, session, state, outcome)


STAGED: dict[str, StagedHandler] = {}
# Up to this many due jobs of the kind are claimed together by one worker (see the runner).
BATCH_SIZES: dict[str, int] = {}


class RetryLater(Exception):
    """Raise from a handler to run it again after ``delay`` seconds.

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


def handler(kind: str) -> Callable[[HandlerFn], HandlerFn]:
    """Register ``fn`` as the handler of job ``kind``."""

    def register(fn: HandlerFn) -> HandlerFn:
        if kind in TRANSACTIONAL or kind in STAGED or (kind in HANDLERS and HANDLERS[kind] is not fn):
            raise ValueError(f"job kind {kind!r} registered twice")
        HANDLERS[kind] = fn
        return fn

    return register


def staged_handler(kind: str) -> Callable[[type[StagedHandler]], type[StagedHandler]]:
    """Register a `StagedHandler` class (instantiated once) for job ``kind``."""

    def register(cls: type[StagedHandler]) -> type[StagedHandler]:
        if kind in HANDLERS or kind in TRANSACTIONAL or kind in STAGED:
            raise ValueError(f"job kind {kind!r} registered twice")
        STAGED[kind] = cls()
        return cls

    return register


def transactional_handler(
    kind: str,
    *,
    batch: int = 1,
    read: ReadFn | None = None,
    read_many: ReadManyFn | None = None,
    many: ManyFn | None = None,
) -> Callable[[TransactionalFn], TransactionalFn]:
    """Register a transactional handler of job ``kind`` (see `TRANSACTIONAL`).

    ``batch`` above 1 lets a worker that runs one job of this kind claim up to that many
    due jobs of it at once, so a backlog costs one rq round trip per batch, not per job.
    """

    def register(fn: TransactionalFn) -> TransactionalFn:
        if kind in HANDLERS or kind in STAGED or (kind in TRANSACTIONAL and TRANSACTIONAL[kind] is not fn):
            raise ValueError(f"job kind {kind!r} registered twice")
        TRANSACTIONAL[kind] = fn
        BATCH_SIZES[kind] = max(1, batch)
        if read is not None:
            TRANSACTIONAL_READS[kind] = read
        if read_many is not None:
            TRANSACTIONAL_READ_MANY[kind] = read_many
        if many is not None:
            TRANSACTIONAL_MANY[kind] = many
        return fn

    return register
