"""Seeding: agencies from config/ always; demo operators and tickets on first start of `run`.

Demo passwords are generated on the spot and written to
LAPOR_DATA_DIR/demo-credentials.txt, never stored in the repository.
"""

from __future__ import annotations

import secrets

from sqlalchemy import func, select

from gateway.models import Agency, Operator
from gateway.runtime import Runtime
from gateway.security import hash_password


def sync_agencies(runtime: Runtime) -> None:
    """Make the agencies table match config/agencies.yaml (codes are the key)."""
    try:
        from gateway.tickets.seed import sync_agencies as sync
    except ModuleNotFoundError:
        sync = None
    with runtime.db.session() as session:
        if sync is not None:
            sync(session, runtime.catalog)
            return
        for cfg in runtime.catalog.agencies:
            row = session.scalar(select(Agency).where(Agency.code == cfg.code))
            if row is None:
                row = Agency(code=cfg.code)
                session.add(row)
            row.name, row.is_coordinator = cfg.name, cfg.coordinator
            row.categories, row.areas, row.forward = list(cfg.categories), list(cfg.areas), dict(cfg.forward)


def seed(runtime: Runtime, demo: bool) -> None:
    sync_agencies(runtime)
    if not demo:
        return
    with runtime.db.session() as session:
        if session.scalar(select(func.count(Operator.id))):
            return
        coordinator = session.scalar(select(Agency).where(Agency.is_coordinator.is_(True)))
        public_works = session.scalar(select(Agency).where(Agency.code == "dpupr"))
        accounts = [
            ("admin@lapor.local", "Admin Demo", "admin", None),
            (
                "koordinator@lapor.local",
                "Koordinator Demo",
                "coordinator",
                coordinator.id if coordinator else None,
            ),
            ("dpupr@lapor.local", "Operator DPUPR", "agency", public_works.id if public_works else None),
        ]
        lines = ["# demo operator accounts created by `lapor-gateway run` (first start)"]
        for email, name, role, agency_id in accounts:
            password = secrets.token_urlsafe(12)
            session.add(
                Operator(
                    email=email,
                    name=name,
                    role=role,
                    agency_id=agency_id,
                    password_hash=hash_password(password),
                )
            )
            lines.append(f"{email}  {password}  ({role})")
    path = runtime.settings.data_dir / "demo-credentials.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
