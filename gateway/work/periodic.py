"""Periodic tasks run by the scheduler thread of one worker at a time.

Each area registers its own with `gateway.work.scheduler.periodic`; importing
this module imports those areas so that their registrations happen.
"""

from __future__ import annotations

import importlib

for _module in (
    "gateway.tickets.sweep",
    "gateway.privacy.retention",
    "gateway.messages.receipt_cleanup",
    "gateway.routing.learn",
    "gateway.web.inbox.digest",
):
    try:
        importlib.import_module(_module)
    except ModuleNotFoundError as exc:
        if exc.name != _module:
            raise
