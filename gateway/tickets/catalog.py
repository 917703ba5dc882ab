"""Agencies, categories and deadline settings: the types live in config.catalog.

Kept as an import path for the gateway; the dialogue and the gateway share one type each,
read from the runtime's configuration snapshot (``runtime.config.catalog``).
"""

from __future__ import annotations

from config.catalog import AgencyConfig, Catalog, CategoryConfig

__all__ = ["AgencyConfig", "Catalog", "CategoryConfig"]
