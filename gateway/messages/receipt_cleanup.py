"""Deleting old delivery receipts.

A receipt is stored only when it names a message we do not know yet (it beat our own commit
of the provider's id); the send job applies it within seconds. Some never match: the second
and later parts of a long SMS have provider ids of their own, of which the gateway keeps only
the first, and a provider may report on messages sent before a database was restored. Kept
forever they would grow the table with every long SMS, and their raw payloads carry the
citizen's number, so receipts older than `KEEP` are deleted, applied or not (an applied one
lives on in its message's status).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete

from gateway.store.db import rowcount
from gateway.store.models import DeliveryReceipt, utcnow

if TYPE_CHECKING:
    from gateway.runtime import Runtime

log = logging.getLogger(__name__)

KEEP = timedelta(days=2)
INTERVAL = 3600.0


def delete_old_receipts(runtime: Runtime) -> int:
    """Delete receipts older than `KEEP`; returns how many."""
    with runtime.db.session() as session:
        deleted = rowcount(
            session,
            delete(DeliveryReceipt)
            .where(DeliveryReceipt.created_at < utcnow() - KEEP)
            .execution_options(synchronize_session=False),
        )
    if deleted:
        log.info("old delivery receipts deleted", extra={"count": deleted})
    return deleted


def receipt_cleanup_task(runtime: Runtime) -> None:
    delete_old_receipts(runtime)
