"""Helpers for the conversation tests: building messages and contexts, the regen flag.

``REGENERATE_SCENARIOS=1`` (or ``--regen-scenarios`` when this folder is given to
pytest) rewrites the expected stage, replies and effects of every scenario file
from the engine's current behaviour; the hand-written ``replies_contain`` checks
are kept and still asserted. Review the diff before committing it.
"""

from __future__ import annotations

import os

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--regen-scenarios",
        action="store_true",
        default=False,
        help="rewrite tests/conversations/scenarios/*.json expectations from current behaviour",
    )


@pytest.fixture
def regen(request: pytest.FixtureRequest) -> bool:
    flag = bool(request.config.getoption("--regen-scenarios", default=False))
    return flag or os.environ.get("REGENERATE_SCENARIOS") == "1"
