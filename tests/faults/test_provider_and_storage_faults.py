"""Providers failing (5xx, 429, timeouts), the database down, the same message arriving twice at once.

Jobs run in a real rq worker (burst) against the real Redis and database; providers are the
loopback stand-ins answering with the failures their APIs produce.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from adapters.sms import SmsAdapter
from gateway.devtools.loopback.server import Reply
from gateway.store.models import Job, Message
from tests.faults.conftest import count_messages, post_sms, sends_to
from tests.helpers import drain_jobs

NUMBER = "081211112222"
DIGITS = "6281211112222"


def _reply(runtime: Any) -> Message:
    with runtime.db.session() as session:
        return session.scalars(select(Message).where(Message.direction == "out")).one()


def _send(client: Any, runtime: Any, message_id: str) -> None:
    adapter = SmsAdapter.from_env(runtime.settings.env)
    assert (
        post_sms(client, adapter, NUMBER, "Jalan berlubang di depan sekolah", message_id).status_code == 200
    )


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(Reply(500, {"error": "internal"}), id="server-error"),
        pytest.param(Reply(503, {"error": "unavailable"}, headers={"Retry-After": "1"}), id="unavailable"),
        pytest.param(Reply(429, {"error": "slow down"}, headers={"Retry-After": "1"}), id="throttled"),
    ],
)
def test_retryable_provider_failure_is_retried_then_sent_once(
    client: Any, runtime: Any, providers: dict[str, Any], failure: Reply
) -> None:
    sms = providers["sms"]
    sms.fail_next(failure)
    _send(client, runtime, f"fail-{failure.status}")
    drain_jobs(runtime, wait_delayed=4)
    reply = _reply(runtime)
    assert reply.delivery_status == "sent"
    calls = [r for r in sms.requests if r.path == "/sms/json"]
    assert len(calls) == 2  # the failed attempt and the one that went through
    if "Retry-After" in failure.headers:
        # Retry-After honoured: never sooner than the provider asked.
        assert calls[1].received_at - calls[0].received_at >= 1.0


def test_timeout_is_retried(client: Any, runtime: Any, providers: dict[str, Any]) -> None:
    sms = providers["sms"]
    # SMS_TIMEOUT is 2 s in the test settings: this answer comes too late.
    sms.fail_next(Reply(500, {"error": "late"}, delay=2.5))
    _send(client, runtime, "timeout-1")
    drain_jobs(runtime, wait_delayed=5)
    reply = _reply(runtime)
    assert reply.delivery_status == "sent"
    assert sends_to(sms, DIGITS) == 2


def test_after_the_retries_the_message_is_failed_and_visible(
    settings: Any, providers: dict[str, Any]
) -> None:
    from gateway.app import create_app
    from gateway.runtime import Runtime

    runtime = Runtime(replace(settings, env=dict(settings.env) | {"LAPOR_SEND_MAX_ATTEMPTS": "2"}))
    try:
        sms = providers["sms"]
        sms.fail_next(
            Reply(429, {"error": "slow down"}, headers={"Retry-After": "0"}),
            Reply(502, {"error": "bad gateway"}, headers={"Retry-After": "0"}),
        )
        _send(create_app(runtime=runtime).test_client(), runtime, "exhausted-1")
        drain_jobs(runtime, wait_delayed=2)
        reply = _reply(runtime)
        assert reply.delivery_status == "failed"
        assert "502" in (reply.error_code or "") or "502" in (reply.failure_reason or "")
        assert sends_to(sms, DIGITS) == 2
        with runtime.db.session() as session:
            job = session.scalars(select(Job).where(Job.kind == "send_message")).one()
            assert job.status == "failed"
        # Operators see it: the API lists failed deliveries.
        with runtime.db.session() as session:
            failed = session.scalars(select(Message).where(Message.delivery_status == "failed")).all()
            assert [m.id for m in failed] == [reply.id]
    finally:
        runtime.close()


@pytest.mark.parametrize(
    "broken_url",
    [
        pytest.param("postgresql+psycopg://nobody@127.0.0.1:1/none", id="postgres-unreachable"),
        pytest.param("sqlite:////nonexistent-dir/for/lapor/test.db", id="sqlite-unopenable"),
    ],
)
def test_database_down_never_acknowledges_then_recovers(
    client: Any, runtime: Any, settings: Any, providers: dict[str, Any], broken_url: str
) -> None:
    from gateway.app import create_app
    from gateway.runtime import Runtime

    broken = Runtime(replace(settings, database_url=broken_url))
    try:
        adapter = SmsAdapter.from_env(settings.env)
        down = create_app(runtime=broken).test_client()
        for _attempt in range(3):  # the provider retries; every answer says "not stored"
            res = post_sms(down, adapter, NUMBER, "Banjir di RT 05", "db-down-1")
            assert res.status_code == 503, res.data
            assert res.get_json()["error"]["code"] == "storage_unavailable"
        assert down.get("/readyz").status_code == 503
    finally:
        broken.close()
    # The database is back: the provider's next retry is stored once and answered once.
    for _ in range(2):
        assert (
            post_sms(
                client, SmsAdapter.from_env(settings.env), NUMBER, "Banjir di RT 05", "db-down-1"
            ).status_code
            == 200
        )
    drain_jobs(runtime)
    assert count_messages(runtime, Message.direction == "in") == 1
    assert sends_to(providers["sms"], DIGITS) == 1


def test_a_restarted_database_costs_no_webhook_a_503(client: Any, runtime: Any, settings: Any) -> None:
    """The server cut every pooled connection (a restart, a failover, an admin's kill): the next
    webhooks check out a connection, find it dead before using it, and are stored."""
    if runtime.db.is_sqlite:
        pytest.skip("SQLite has no server to restart")
    import psycopg
    from sqlalchemy.engine import make_url

    adapter = SmsAdapter.from_env(settings.env)
    for i in range(3):  # the pool holds connections used a moment ago
        assert post_sms(client, adapter, NUMBER, "Banjir di RT 05", f"restart-{i}").status_code == 200
    url = make_url(settings.database_url).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as admin:
        others = "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        admin.execute(f"SELECT pg_terminate_backend(pid) {others}")
        deadline = time.monotonic() + 10
        while admin.execute(f"SELECT count(*) {others}").fetchone() != (0,):
            assert time.monotonic() < deadline, "the server did not end the connections"
            time.sleep(0.05)
    for i in range(3, 6):
        res = post_sms(client, adapter, NUMBER, "Banjir di RT 05", f"restart-{i}")
        assert res.status_code == 200, res.data
    assert count_messages(runtime, Message.direction == "in") == 6


def test_same_message_on_two_web_processes_at_once_is_stored_once(
    runtime: Any, settings: Any, providers: dict[str, Any]
) -> None:
    from gateway.app import create_app
    from gateway.runtime import Runtime

    second = Runtime(settings)  # another process's pool of connections
    try:
        apps = [create_app(runtime=runtime), create_app(runtime=second)]
        adapter = SmsAdapter.from_env(settings.env)
        req = adapter.simulate(NUMBER, "Pungli di kantor kelurahan", message_id="race-1")
        statuses: list[int] = []
        barrier = threading.Barrier(8)

        def post(index: int) -> None:
            client = apps[index % 2].test_client()
            barrier.wait()
            res = client.open(req.path, method=req.method, headers=dict(req.headers), data=req.body)
            statuses.append(res.status_code)

        threads = [threading.Thread(target=post, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert statuses == [200] * 8
        assert count_messages(runtime, Message.direction == "in") == 1
        drain_jobs(runtime)
        assert sends_to(providers["sms"], DIGITS) == 1
    finally:
        second.close()


def test_provider_ids_are_unique_in_the_database_itself(runtime: Any) -> None:
    """Not only a check before insert: the table refuses a second copy."""
    with pytest.raises(IntegrityError), runtime.db.session() as session:
        for _ in range(2):
            session.add(
                Message(direction="in", channel="sms", provider_message_id="uniq-1", address="tel:+1")
            )
            session.flush()
