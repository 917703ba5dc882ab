"""Background work: an outbox table in the database, carried to workers by rq.

Write work with `record_job(session, kind, payload)` inside the transaction that
creates what the job stands for; it reaches Redis only after that transaction
commits. A handler is declared with `@handler("kind")`, or `@transactional_handler("kind")` for
work that only touches the database (it then commits together with the job's end), and runs
only once its kind is listed in `gateway.jobs.kinds`. See docs/operations.md, "Jobs and rq".
"""

from gateway.jobs.outbox import record_job
from gateway.jobs.registry import RetryLater, handler, transactional_handler

__all__ = ["RetryLater", "handler", "record_job", "transactional_handler"]
