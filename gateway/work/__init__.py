"""Background work: an outbox table in the database, carried to workers by rq.

Write work with `record_job(session, kind, payload)` inside the transaction that
creates what the job stands for; it reaches Redis only after that transaction
commits. Every kind has one handler protocol, in batches (`gateway.work.registry.Handler`),
and runs only once its handler is listed in `gateway.work.kinds.KINDS`. See docs/jobs.md and
docs/operations.md, "Jobs and rq".
"""

from gateway.work.outbox import record_job
from gateway.work.registry import FunctionHandler, Handler, RetryLater

__all__ = ["FunctionHandler", "Handler", "RetryLater", "record_job"]
