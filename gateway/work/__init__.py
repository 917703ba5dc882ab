"""Background work: an outbox table in the database, carried to workers by rq.

Write work with `record_job(session, kind, payload)` inside the transaction that
creates what the job stands for; it reaches Redis only after that transaction
commits. Register handlers with `@handler("kind")`, or `@transactional_handler("kind")` for
work that only touches the database (it then commits together with the job's end).
See docs/operations.md.
"""

from gateway.work.outbox import record_job
from gateway.work.registry import RetryLater, handler, transactional_handler

__all__ = ["RetryLater", "handler", "record_job", "transactional_handler"]
