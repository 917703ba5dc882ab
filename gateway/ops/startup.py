"""What `web` and `worker` check before they start, said in lines a deployer can act on.

A process that starts "ready" on a broken config fails later, where nobody looks: a
citizen's SMS is accepted and never answered. So both refuse to start on any error
`lapor-gateway config check` reports (the same lines), and on a missing SECRET_KEY.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from config.check import check_config
from config.problems import ConfigError, Problem, errors
from config.settings import CHANNELS_ENV, load_settings, read_env_file, require_secret_key


def effective_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables the gateway reads: the process's, over what `run` recorded for its stand-ins."""
    env = dict(os.environ if env is None else env)
    data_dir = env.get("LAPOR_DATA_DIR") or "./instance"
    return read_env_file(Path(data_dir).resolve() / CHANNELS_ENV) | env


def start_problems(env: Mapping[str, str] | None = None, need_secret: bool = True) -> list[Problem]:
    """The errors that keep `web` or `worker` from starting (warnings are not among them)."""
    env = effective_env(env)
    found = errors(check_config(env))
    if need_secret:
        found = require_secret_key(env) + found
    return found


def refuse_on_problems(process: str, env: Mapping[str, str] | None = None, need_secret: bool = True) -> None:
    """Exit with status 2 and one line per problem when ``process`` must not start."""
    try:
        found = start_problems(env, need_secret=need_secret)
    except ConfigError as exc:
        found = list(exc.problems)
    if not found:
        return
    for problem in found:
        print(problem, file=sys.stderr)
    print(
        f"lapor-gateway {process}: not starting, {len(found)} configuration error(s) "
        "(run `lapor-gateway config check`)",
        file=sys.stderr,
    )
    raise SystemExit(2)


def settings_or_exit() -> Any:
    """The settings, or each ConfigError line on stderr and exit status 2 (never a traceback):
    what every command of the command line starts with."""
    try:
        return load_settings()
    except ConfigError as exc:
        for problem in exc.problems:
            print(str(problem), file=sys.stderr)
        sys.exit(2)
