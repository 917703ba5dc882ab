"""Find and read the deployer-editable YAML files, with the shipped ones as fallback.

Every file is read the same way: parsed once into its data and the line of each key
(`Document`), and, for the files `config.schema` describes, validated into a typed model
(`load_model`). `lapor-gateway config check` is this loader run over every file once, so
a file the check accepts is a file the gateway reads the same way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from config.problems import ConfigError, Problem

SHIPPED_DIR = Path(__file__).resolve().parent

#: A key path inside a document: mapping keys and list positions.
KeyPath = tuple[str | int, ...]


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


class _Loader(yaml.SafeLoader):
    """SafeLoader that leaves an impossible date (``2026-20-08``) a string for the model to name."""

    def construct_yaml_timestamp(self, node: yaml.Node) -> Any:
        try:
            return super().construct_yaml_timestamp(node)  # type: ignore[arg-type]
        except ValueError:
            return self.construct_scalar(node)  # type: ignore[arg-type]


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


@dataclass(frozen=True)
class Document:
    """One parsed YAML file: its data, and the line (1-based) of every key and list item."""

    path: Path
    data: Any
    lines: Mapping[KeyPath, int] = field(default_factory=dict)

    def line(self, key: KeyPath) -> int | None:
        """The line of ``key``, or of its nearest parent that has one."""
        for end in range(len(key), -1, -1):
            found = self.lines.get(tuple(key[:end]))
            if found is not None:
                return found
        return None


def read_document(path: Path) -> Document:
    """Parse ``path`` once: data and key lines from the same node tree (yaml.compose).

    Raises ConfigError with the line YAML stopped at, e.g. for a mis-indented key.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(str(path), f"cannot be read: {exc}")]) from exc
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = " ".join(filter(None, (exc.context, exc.problem)))
        line = mark.line + 1 if mark else None
        raise ConfigError([Problem(str(path), f"not valid YAML ({reason})", line=line)]) from exc
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(str(path), f"not valid YAML ({exc})")]) from exc
    finally:
        loader.dispose()
    lines: dict[KeyPath, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return Document(path=path, data={} if data is None else data, lines=lines)


def _walk(node: yaml.Node, key: KeyPath, lines: dict[KeyPath, int]) -> None:
    lines.setdefault(key, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*key, str(key_node.value))
            lines[child] = key_node.start_mark.line + 1
            _walk(value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*key, index), lines)


def load_document(name: str, env: Mapping[str, str] | None = None) -> Document:
    """``name`` as a Document, from the deployer's folder first.

    Read afresh on every call: its callers read once (`config check`, and the runtime's
    snapshot, which is rebuilt when a file changes or on SIGHUP). A cache keyed on the
    file's time would hand SIGHUP the old content of a file restored with its old time.
    """
    return read_document(find_config_file(name, env))


def load_model(name: str, env: Mapping[str, str] | None = None) -> Any:
    """``name`` validated by its model in config.schema; ConfigError with one line per problem."""
    from config.schema import validate_document

    return validate_document(name, load_document(name, env))
