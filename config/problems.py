"""One problem in what a deployer edits, said on one line that names the file, line and key.

`lapor-gateway config check`, `web` and `worker` print these instead of a traceback: the
person reading them edits YAML and environment variables, not Python.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """``source`` is a file path or ``environment``; ``key`` a dotted path or a variable name."""

    source: str
    message: str
    key: str = ""
    line: int | None = None
    severity: str = ERROR

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        key = f"{self.key}: " if self.key else ""
        return f"{where}: {self.severity}: {key}{self.message}"


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` says why, one line each."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def errors(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.is_error]
