"""Agencies in the database, kept in step with config/agencies.yaml."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.catalog import Catalog
from gateway.models import Agency


def sync_agencies(session: Session, catalog: Catalog) -> dict[str, Agency]:
    """Insert or update one Agency row per configured agency; returns them by code.

    Agencies removed from the config are marked inactive rather than deleted,
    because their tickets and operators still point at them.
    """
    rows = {a.code: a for a in session.scalars(select(Agency))}
    seen: dict[str, Agency] = {}
    for config in catalog.agencies:
        row = rows.get(config.code)
        if row is None:
            row = Agency(code=config.code)
            session.add(row)
        row.name = config.name
        row.is_coordinator = config.coordinator
        row.categories = list(config.categories)
        row.areas = list(config.areas)
        row.forward = dict(config.forward)
        row.active = True
        seen[config.code] = row
    for code, row in rows.items():
        if code not in seen and row.active:
            row.active = False
    session.flush()
    return seen
