"""Agencies in the database, kept in step with config/agencies.yaml.

`lapor-gateway db upgrade` runs this after the migrations and `agencies sync` runs it on
demand, so a new deployment has its agencies before the first ticket (an agency operator
can be created right away); ticket filing still catches up a config edited since.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.store.models import Agency
from gateway.tickets.catalog import Catalog


@dataclass
class AgencySync:
    """What one sync did, by agency code."""

    rows: dict[str, Agency] = field(default_factory=dict)
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = []
        changes = {"added": self.added, "updated": self.updated, "deactivated": self.deactivated}
        for label, codes in changes.items():
            parts.append(f"{len(codes)} {label}" + (f" ({', '.join(codes)})" if codes else ""))
        return f"agencies: {len(self.rows)} configured; " + ", ".join(parts)


def apply_agencies(session: Session, catalog: Catalog) -> AgencySync:
    """Insert or update one Agency row per configured agency, and say what changed.

    Agencies removed from the config are marked inactive rather than deleted,
    because their tickets and operators still point at them.
    """
    result = AgencySync()
    rows = {a.code: a for a in session.scalars(select(Agency))}
    for config in catalog.agencies:
        row = rows.get(config.code)
        wanted = {
            "name": config.name,
            "is_coordinator": config.coordinator,
            "categories": list(config.categories),
            "areas": list(config.areas),
            "forward": dict(config.forward),
            "active": True,
        }
        if row is None:
            row = Agency(code=config.code)
            session.add(row)
            result.added.append(config.code)
        elif any(getattr(row, key) != value for key, value in wanted.items()):
            result.updated.append(config.code)
        for key, value in wanted.items():
            setattr(row, key, value)
        result.rows[config.code] = row
    for code, row in rows.items():
        if code not in result.rows and row.active:
            row.active = False
            result.deactivated.append(code)
    session.flush()
    return result


def sync_agencies(session: Session, catalog: Catalog) -> dict[str, Agency]:
    """`apply_agencies`, returning the rows by code."""
    return apply_agencies(session, catalog).rows
