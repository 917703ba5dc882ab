"""The tests' own configuration: tests/data/catalogue, laid over the shipped config/.

It holds agencies, categories, routing, areas, lifecycle and holidays (a copy of the shipped
files when it was made): the routing work rewrites the shipped catalogue, and the tests must
not change with it. Files not here (texts, conversation.yaml, emergency.yaml, ratelimit.yaml)
fall back to config/, as a deployer's missing files do. Tests about the shipped config itself
(`config check` of config/, routing evaluation on tests/data/routing) read config/ directly.
"""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

from config.files import read_config
from conversations.snapshot import ConfigSnapshot

CATALOGUE = Path(__file__).resolve().parent / "data" / "catalogue"
#: The shipped config/, for the few tests about the shipped catalogue itself.
ROOT_CONFIG = Path(__file__).resolve().parent.parent / "config"


@functools.cache
def catalogue_config() -> ConfigSnapshot:
    """The snapshot of the test catalogue (built once per test process: it is immutable)."""
    return snapshot_of(CATALOGUE)


def snapshot_of(folder: Path) -> ConfigSnapshot:
    """The snapshot a gateway whose LAPOR_CONFIG_DIR is ``folder`` would build."""
    return ConfigSnapshot.build(read_config({"LAPOR_CONFIG_DIR": str(folder)}))


def deploy_folder(tmp_path: Path) -> Path:
    """A deployer's LAPOR_CONFIG_DIR holding a copy of the test catalogue, for a test to edit."""
    folder = tmp_path / "deploy-config"
    if not folder.exists():
        shutil.copytree(CATALOGUE, folder)
    return folder
