"""Everything the gateway reads from the config folders, read in one pass.

`read_config` is `config.check.load_all` (the same loader `lapor-gateway config check`
runs) plus the citizen-facing text catalogs. The runtime builds its configuration
snapshot from what this returns and rebuilds it when `stamp` changes, so the files are
read once per edit, not once per message.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from config.loader import Document, config_dirs, load_document
from config.problems import ConfigError
from config.schema import MODELS

#: Languages of the citizen-facing texts (config/messages/<lang>.yaml).
TEXT_LANGUAGES = ("id", "en")

#: A file's identity for "has it changed": its path, modification time and size (None: absent).
Stamp = tuple[tuple[str, int | None, int | None], ...]


@dataclass(frozen=True)
class ConfigFiles:
    """The validated models, their parsed data, and the text catalogs (deployer's first)."""

    models: Mapping[str, Any]
    data: Mapping[str, Any]
    messages: Mapping[str, tuple[Mapping[str, Any], ...]]


def watched_files() -> tuple[str, ...]:
    """The file names a snapshot is built from, in every config folder."""
    return (*MODELS, *(f"messages/{lang}.yaml" for lang in TEXT_LANGUAGES))


def stamp(env: Mapping[str, str]) -> Stamp:
    """Every watched path's modification time and size: a new value means a file changed."""
    out: list[tuple[str, int | None, int | None]] = []
    for folder in config_dirs(env):
        for name in watched_files():
            path = folder / name
            try:
                info = path.stat()
            except OSError:
                out.append((str(path), None, None))
            else:
                out.append((str(path), info.st_mtime_ns, info.st_size))
    return tuple(out)


def read_config(env: Mapping[str, str]) -> ConfigFiles:
    """Every file of the configuration ``env`` points at; ConfigError listing every error."""
    from config.check import load_all  # check imports this module's neighbours, not this one

    documents: dict[str, Document] = {}
    models, problems = load_all(env, documents)
    errors = [p for p in problems if p.is_error]
    if errors:
        raise ConfigError(errors)
    data = {name: documents[name].data for name in models}
    messages: dict[str, tuple[Mapping[str, Any], ...]] = {}
    for lang in TEXT_LANGUAGES:
        chain: list[Mapping[str, Any]] = []
        for folder in config_dirs(env):
            path = folder / "messages" / f"{lang}.yaml"
            if path.is_file():
                with contextlib.suppress(ConfigError):  # config check names a broken text file
                    document = load_document(f"messages/{lang}.yaml", {"LAPOR_CONFIG_DIR": str(folder)})
                    if isinstance(document.data, Mapping):
                        chain.append(document.data)
        messages[lang] = tuple(chain)
    return ConfigFiles(models=models, data=data, messages=messages)
