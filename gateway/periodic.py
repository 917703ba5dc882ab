"""Periodic tasks run by the scheduler thread of one worker at a time.

Each area registers its own with `gateway.jobs.scheduler.periodic`; importing
this module imports those areas so that their registrations happen.
"""

from __future__ import annotations

import importlib

for _module in (
    "gateway.tickets.sweep",
    "gateway.retention",
    "gateway.receipt_cleanup",
    "gateway.routing_learn",
    "gateway.inbox.digest",
):
    try:
        importlib.import_module(_module)
    except ModuleNotFoundError as exc:
        if exc.name != _module:
            raise
