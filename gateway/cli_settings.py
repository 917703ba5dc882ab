"""The command line's settings loader, in a module of its own so that a command group kept
beside `gateway.cli` (`gateway.cli_telegram`) can use it without importing the command line
back (tests/test_layering.py: nothing imports `gateway.cli`)."""

from __future__ import annotations

import sys
from typing import Any

import click

from config.settings import load_settings


def settings_or_exit() -> Any:
    """load_settings, or the ConfigError's lines and exit status 2 (never a traceback)."""
    from config.problems import ConfigError

    try:
        return load_settings()
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(2)
