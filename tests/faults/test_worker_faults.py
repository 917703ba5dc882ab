"""Real worker processes killed and stopped in the middle of their work.

Counts, after recovery: every acknowledged inbound message is stored once and answered once
(one send call at the provider), and nothing the gateway accepted is left undone.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import and_, or_, select

from adapters.sms import SmsAdapter
from adapters.twilio import TwilioAdapter
from gateway.store.models import Job, Message, utcnow
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


def _answered(runtime: Any) -> dict[str, Message]:
    with runtime.db.session() as session:
        return {r.address: r for r in session.scalars(select(Message).where(Message.direction == "out"))}


def _row_of(replies: dict[str, Message], digits: str) -> Message:
    return next(r for address, r in replies.items() if address.endswith(digits))


def _claimed_not_called(runtime: Any) -> int:
    return count_messages(runtime, Message.direction == "out", Message.delivery_status == "sending")


def _post_sms_citizens(client: Any, runtime: Any, senders: list[str], tag: str) -> None:
    adapter = SmsAdapter.from_env(runtime.settings.env)
    for i, sender in enumerate(senders):
        res = post_sms(client, adapter, sender, "Lampu jalan mati di gang kami", f"{tag}-{i}")
        assert res.status_code == 200


def _recover(runtime: Any, start_worker: Any) -> Any:
    worker = start_worker()
    assert wait_until(lambda: not _unfinished_jobs(runtime), timeout=40), (
        _unfinished_jobs(runtime),
        worker.log()[-3000:],
    )
    return worker


def test_sigkill_between_claim_and_provider_call_still_answers_everyone_once(
    fault_client: Any, fault_runtime: Any, providers: dict[str, Any], start_worker: Any, worker_env: Any
) -> None:
    """The kill lands after the sends were claimed and before any provider call: none of them
    may have reached the provider, so all are sent after the restart, each exactly once."""
    sms = providers["sms"]
    senders = _numbers(6, base=81211110000)
    _post_sms_citizens(fault_client, fault_runtime, senders, "before")
    paused = dict(worker_env)
    # The test-only hook: the worker waits between the claim and the provider call.
    worker_env.update({"LAPOR_TESTING": "1", "LAPOR_TEST_PAUSE_BEFORE_CALL": "30"})
    worker = start_worker()
    assert wait_until(lambda: _claimed_not_called(fault_runtime) == len(senders), timeout=30), worker.log()[
        -3000:
    ]
    assert not sms.requests, "a send reached the provider before the kill"
    worker.kill()
    worker_env.clear()
    worker_env.update(paused)

    _recover(fault_runtime, start_worker)
    replies = _answered(fault_runtime)
    assert len(replies) == len(senders)
    for sender in senders:
        row = _row_of(replies, _digits(sender))
        assert row.delivery_status == "sent", (sender, row.delivery_status, row.failure_reason)
        assert sends_to(sms, _digits(sender)) == 1, sender


@pytest.mark.parametrize("policy", ["hold", "resend"])
def test_sigkill_during_the_provider_call(
    fault_client: Any,
    fault_runtime: Any,
    providers: dict[str, Any],
    start_worker: Any,
    worker_env: Any,
    policy: str,
) -> None:
    """The kill lands while sends are at the provider (it answers slowly). The SMS aggregator
    cannot be asked what it received, so each send in flight follows the policy: ``hold`` shows
    it to operators as interrupted, ``resend`` sends it again (at most one duplicate). Every
    send that was not in flight goes out exactly once."""
    sms = providers["sms"]
    senders = _numbers(4)
    _post_sms_citizens(fault_client, fault_runtime, senders, f"during-{policy}")
    worker_env["LAPOR_AMBIGUOUS_SENDS_SMS"] = policy
    sms.delay = 3.0  # each send is in flight for a while: the kill lands inside the calls
    try:
        worker = start_worker()
        # Every send has reached the provider, none is answered yet: the kill lands during them.
        arrived = sms.wait_for(len(senders), timeout=30, path_contains="/sms/json")
        worker.kill()  # the sends at the provider: their answers never read
        assert len(arrived) == len(senders), worker.log()
    finally:
        sms.delay = 0.0
    in_flight = {r.form().get("to") for r in sms.requests if r.path == "/sms/json"}
    _recover(fault_runtime, start_worker)

    assert count_messages(fault_runtime, Message.direction == "in") == len(senders)
    replies = _answered(fault_runtime)
    assert len(replies) == len(senders)
    cut_off = 0
    for sender in senders:
        digits = _digits(sender)
        row = _row_of(replies, digits)
        sent = sends_to(sms, digits)
        if digits not in in_flight or (row.delivery_status, sent) == ("sent", 1):
            # Not at the provider when the kill landed (or its answer was recorded before it).
            assert (row.delivery_status, sent) == ("sent", 1), (sender, row.delivery_status, sent)
        elif policy == "hold":
            # It may have reached the citizen: not sent again, shown to operators.
            assert (row.delivery_status, row.error_code, sent) == ("failed", "interrupted", 1), sender
            assert "interrupted" in (row.failure_reason or "")
            cut_off += 1
        else:
            assert (row.delivery_status, sent) == ("sent", 2), (sender, row.delivery_status, sent)
            cut_off += 1
    assert cut_off, "the kill landed while sends were in flight"


def test_sigkill_with_more_replies_than_send_threads_holds_back_only_the_calls_in_flight(
    fault_client: Any, fault_runtime: Any, providers: dict[str, Any], start_worker: Any, worker_env: Any
) -> None:
    """The reported case: many citizens, few send threads, a kill at some moment of the backlog.
    Only the sends being called can be held as interrupted (at most one per send thread); every
    other citizen is answered exactly once after the restart, none is silenced."""
    sms = providers["sms"]
    threads = 4
    senders = _numbers(24, base=81222220000)
    _post_sms_citizens(fault_client, fault_runtime, senders, "backlog")
    worker_env["LAPOR_SEND_THREADS"] = str(threads)
    sms.delay = 0.4
    try:
        worker = start_worker()
        assert len(sms.wait_for(6, timeout=30, path_contains="/sms/json")) >= 6, worker.log()
        worker.kill()
    finally:
        sms.delay = 0.0
    _recover(fault_runtime, start_worker)

    replies = _answered(fault_runtime)
    assert len(replies) == len(senders)
    held = []
    for sender in senders:
        row = _row_of(replies, _digits(sender))
        sent = sends_to(sms, _digits(sender))
        if row.delivery_status == "failed":
            assert row.error_code == "interrupted" and sent <= 1, (sender, row.error_code, sent)
            held.append(sender)
        else:
            assert (row.delivery_status, sent) == ("sent", 1), (sender, row.delivery_status, sent)
    assert len(held) <= threads, held


def test_sigkill_during_a_twilio_call_asks_twilio_instead_of_guessing(
    fault_client: Any, fault_runtime: Any, providers: dict[str, Any], start_worker: Any
) -> None:
    """Twilio can list what it accepted: after the kill, each send that was in flight is
    looked up there. Found, it is recorded as sent (no second copy); every citizen gets
    exactly one answer."""
    twilio = providers["twilio"]
    adapter = TwilioAdapter.from_env(fault_runtime.settings.env)
    assert adapter is not None
    senders = [f"+6281233330{i:03d}" for i in range(4)]
    for i, sender in enumerate(senders):
        req = adapter.simulate(sender, "Jalan berlubang di depan sekolah", message_id=f"SM{i:032x}")
        res = fault_client.open(req.path, method=req.method, headers=dict(req.headers), data=req.body)
        assert res.status_code == 200
    twilio.delay = 3.0
    try:
        worker = start_worker()
        arrived = twilio.wait_for(len(senders), timeout=30, path_contains="/Messages.json")
        worker.kill()
        assert len(arrived) == len(senders), worker.log()
    finally:
        twilio.delay = 0.0
    assert any(r.method == "POST" for r in twilio.requests)
    _recover(fault_runtime, start_worker)

    replies = _answered(fault_runtime)
    assert len(replies) == len(senders)
    for sender in senders:
        row = _row_of(replies, sender)
        created = [m for m in twilio.sent if m["to"] == sender]
        assert row.delivery_status in ("queued", "sent"), (sender, row.delivery_status, row.failure_reason)
        assert len(created) == 1, (sender, len(created))
        assert row.provider_message_id == created[0]["sid"]


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
