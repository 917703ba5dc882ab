"""The OpenAPI document against the implementation: schemathesis, in-process over WSGI.

Every operation of /api/v1/openapi.json is exercised with generated valid
(positive) and invalid (negative) requests, a bounded number each; every
schemathesis check must pass, so a 500, an undocumented status code, a body that
does not match its schema or an invalid request that is accepted fails here.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode

from gateway.web.api.auth import create_token
from tests.public.conftest import seed_tickets

EXAMPLES = 20


@pytest.fixture
def api_token(runtime: Any) -> str:
    seed_tickets(runtime)
    with runtime.db.session() as session:
        _row, token = create_token(session, "schemathesis")
    return token


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_api_conforms_to_openapi(app: Any, api_token: str, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    headers = {"Authorization": f"Bearer {api_token}"}
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode, headers=headers))
        @settings(
            max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def check(case: Any) -> None:
            case.call_and_validate()

        try:
            check()
        except Unsatisfiable:
            # An operation without parameters or body has no invalid request to make.
            assert mode == GenerationMode.NEGATIVE and not operation.query and not operation.body
        except Exception as exc:  # collect every operation's failure, then report them together
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
