"""Background work: an outbox table in the database, carried to workers by rq.

Write work with `record_job(session, kind, payload)` inside the transaction that
creates what the job stands for; it reaches Redis only after that transaction
commits. Every kind has one handler protocol, in batches (`gateway.jobs.registry.Handler`):
register a class with `@handler_class("kind")`, or a plain function that opens its own
transactions with `@handler("kind")`. See docs/jobs.md.
"""

from gateway.jobs.outbox import record_job
from gateway.jobs.registry import Handler, RetryLater, handler, handler_class

__all__ = ["Handler", "RetryLater", "handler", "handler_class", "record_job"]
