"""The web form's tests: a form token old enough to be a person's, and the form posted."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from gateway.web.webform import tokens


@pytest.fixture
def token(runtime: Any) -> Any:
    """A new form's token, handed out ``age`` seconds ago (a person takes longer than the minimum)."""
    return lambda age=30.0: tokens.issue(runtime.settings.secret_key, now=time.time() - age)


def complaint(token: str, **fields: Any) -> dict[str, Any]:
    """A complete form, as the page posts it; ``fields`` change or add to it."""
    data = {
        "token": token,
        "lang": "id",
        "description": "Lampu penerangan jalan mati sudah seminggu, gelap sekali kalau malam",
        "place": "Jl. Kenanga 5, Kel. Sukamaju",
        "lat": "",
        "lon": "",
        "category": "",
        "privacy": "anonymous",
        "updates": "none",
        "phone": "",
        "website": "",
    }
    data.update(fields)
    return data


def tracking_in(html: str) -> str:
    found = re.search(r'id="tracking">#(\d{8})<', html)
    assert found, html
    return found.group(1)
