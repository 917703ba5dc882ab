"""Real worker processes killed and stopped in the middle of their work.

Counts, after recovery: every acknowledged inbound message is stored once and answered once
(one send call at the provider), and nothing the gateway accepted is left undone.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_, select

from adapters.sms import SmsAdapter
from gateway.models import Job, Message, utcnow
from tests.faults.conftest import count_messages, post_sms, sends_to, wait_until


def _numbers(n: int, base: int = 81200000000) -> list[str]:
    return [f"0{base + i}" for i in range(n)]


def _digits(local: str) -> str:
    return "62" + local[1:]


def _unfinished_jobs(runtime: Any) -> list[tuple[int, str, str]]:
    """Jobs due now that have not finished (a conversation's later timeout is not due)."""
    with runtime.db.session() as session:
        return [
            (j.id, j.kind, j.status)
            for j in session.scalars(
                select(Job).where(
                    or_(Job.status == "running", and_(Job.status == "pending", Job.run_at <= utcnow()))
                )
            )
        ]


def test_sigkill_mid_send_loses_nothing_and_sends_nothing_twice(
    fault_client: Any, fault_runtime: Any, providers: dict[str, Any], start_worker: Any
) -> None:
    sms = providers["sms"]
    adapter = SmsAdapter.from_env(fault_runtime.settings.env)
    senders = _numbers(4)
    for i, sender in enumerate(senders):
        assert (
            post_sms(fault_client, adapter, sender, "Lampu jalan mati di gang kami", f"kill-{i}").status_code
            == 200
        )
    sms.delay = 1.5  # each send is in flight for a while: the kill lands inside one
    try:
        worker = start_worker()
        assert sms.wait_for(2, timeout=30, path_contains="/sms/json"), worker.log()
        worker.kill()  # the second send is at the provider, its answer never read
    finally:
        sms.delay = 0.0
    start_worker()
    assert wait_until(lambda: not _unfinished_jobs(fault_runtime), timeout=40), _unfinished_jobs(
        fault_runtime
    )

    assert count_messages(fault_runtime, Message.direction == "in") == len(senders)
    with fault_runtime.db.session() as session:
        replies = session.scalars(select(Message).where(Message.direction == "out")).all()
    assert len(replies) == len(senders)
    statuses = sorted(r.delivery_status for r in replies)
    assert all(s in ("sent", "failed") for s in statuses), statuses
    # The worker sends on several threads, so the kill can cut off every send in flight. Each
    # cut-off send may have reached the provider; it is not sent again but shown to operators
    # as interrupted (the gateway cannot know whether the citizen got it). Every other reply
    # went out exactly once, after the restart if not before.
    interrupted = [r for r in replies if r.delivery_status == "failed"]
    assert interrupted, statuses  # the kill landed while sends were in flight
    for row in interrupted:
        assert row.error_code == "interrupted"
        assert "interrupted" in (row.failure_reason or "")
    by_address = {r.address: r for r in replies}
    for sender in senders:
        row = next(r for a, r in by_address.items() if a.endswith(_digits(sender)))
        sent = sends_to(sms, _digits(sender))
        if row.delivery_status == "sent":
            assert sent == 1, (sender, sent)
        else:
            assert sent <= 1, (sender, sent)  # never twice


def test_sigterm_finishes_the_current_job_then_exits(
    fault_client: Any, fault_runtime: Any, providers: dict[str, Any], start_worker: Any
) -> None:
    sms = providers["sms"]
    adapter = SmsAdapter.from_env(fault_runtime.settings.env)
    assert (
        post_sms(fault_client, adapter, "081299990001", "Sampah tidak diangkut", "term-1").status_code == 200
    )
    sms.delay = 1.0
    try:
        worker = start_worker()
        assert sms.wait_for(1, timeout=30, path_contains="/sms/json"), worker.log()
        code = worker.terminate()
    finally:
        sms.delay = 0.0
    assert code == 0, worker.log()
    with fault_runtime.db.session() as session:
        reply = session.scalars(select(Message).where(Message.direction == "out")).one()
        assert reply.delivery_status == "sent"  # the answer was read and recorded before exiting
        assert reply.provider_message_id
    assert not _unfinished_jobs(fault_runtime)
    assert sends_to(sms, "6281299990001") == 1


def test_redis_restarted_empty_while_work_is_queued(
    fault_client: Any, fault_runtime: Any, providers: dict[str, Any], start_worker: Any, own_redis: Any
) -> None:
    sms = providers["sms"]
    adapter = SmsAdapter.from_env(fault_runtime.settings.env)
    worker = start_worker()
    assert post_sms(fault_client, adapter, "081277770000", "Air PDAM mati", "redis-0").status_code == 200
    assert sms.wait_for(1, timeout=30, path_contains="/sms/json"), worker.log()

    own_redis.stop()  # Redis is gone: webhooks keep accepting, the database records the work
    senders = _numbers(5, base=81277770001)
    for i, sender in enumerate(senders):
        res = post_sms(fault_client, adapter, sender, "Jalan rusak parah", f"redis-{i + 1}")
        assert res.status_code == 200
    assert count_messages(fault_runtime, Message.direction == "in") == 1 + len(senders)

    own_redis.start()  # back, and empty: every job it held is lost
    assert wait_until(lambda: not _unfinished_jobs(fault_runtime), timeout=40), (
        _unfinished_jobs(fault_runtime),
        worker.log()[-3000:],
    )
    assert worker.alive(), worker.log()[-3000:]
    for sender in ["081277770000", *senders]:
        assert sends_to(sms, _digits(sender)) == 1, sender
    assert count_messages(fault_runtime, Message.direction == "out", Message.delivery_status == "sent") == 6
