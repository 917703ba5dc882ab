"""Find and read the deployer-editable YAML files, with the shipped ones as fallback."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

SHIPPED_DIR = Path(__file__).resolve().parent


def config_dirs(env: Mapping[str, str] | None = None) -> list[Path]:
    """The folders searched for a config file, the deployer's first."""
    env = os.environ if env is None else env
    dirs: list[Path] = []
    custom = env.get("LAPOR_CONFIG_DIR")
    if custom:
        dirs.append(Path(custom))
    dirs.append(SHIPPED_DIR)
    return dirs


def find_config_file(name: str, env: Mapping[str, str] | None = None) -> Path:
    """The path of ``name`` (e.g. ``messages/id.yaml``) in the first folder that has it."""
    for folder in config_dirs(env):
        candidate = folder / name
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"config file {name!r} not found in {config_dirs(env)}")


def load_yaml(name: str, env: Mapping[str, str] | None = None) -> Any:
    """Parse one config file; cached per path and modification time."""
    path = find_config_file(name, env)
    return _load_cached(str(path), path.stat().st_mtime_ns)


@lru_cache(maxsize=64)
def _load_cached(path: str, _mtime: int) -> Any:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}
