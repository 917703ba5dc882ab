"""Every periodic task, in one list: the worker's scheduler runs these and nothing else.

A task is added here, by name, not registered by importing its module: what runs is what
this list says, whatever the process happened to import first.
"""

from __future__ import annotations

from gateway.messages import receipt_cleanup, sms_budget
from gateway.privacy import retention
from gateway.routing import learn as routing_learn
from gateway.tickets import sweep
from gateway.web.inbox import digest
from gateway.work.scheduler import Periodic

TASKS: tuple[Periodic, ...] = (
    Periodic("deadline_sweep", sweep.SWEEP_INTERVAL, sweep.deadline_sweep),
    Periodic("retention", retention.INTERVAL, retention.retention_task),
    Periodic("receipt_cleanup", receipt_cleanup.INTERVAL, receipt_cleanup.receipt_cleanup_task),
    Periodic("routing.retrain", 24 * 3600, routing_learn.retrain_daily),
    Periodic("overdue_digest", digest.CHECK_INTERVAL, digest.digest_task),
    Periodic("sms_budget", sms_budget.RELEASE_INTERVAL, sms_budget.release_held_task),
)
