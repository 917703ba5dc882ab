"""A worker with send threads claims the replies rq delivers together and records them together.

Runs the real worker loop (`run_worker`, burst mode, rq's SimpleWorker) in this process
against the loopback SMS aggregator; the stand-in answers slowly, so the replies are in
flight at the same time.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from adapters import adapter_class
from gateway.store.models import Job, Message
from gateway.work import registry, runner
from gateway.work.worker import run_worker


def test_replies_of_a_batch_are_claimed_together_and_each_sent_once(
    client: Any, runtime: Any, providers: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Normally a batch commits every 10 ms so that webhooks need not wait; here the whole batch
    # shares one transaction, so its replies reach the send threads as one list.
    monkeypatch.setattr(registry, "BATCH_TRANSACTION_SECONDS", 30.0)
    adapter = adapter_class("sms").from_env(runtime.settings.env)
    senders = [f"08124440{n:04d}" for n in range(12)]
    for sender in senders:
        req = adapter.simulate(sender, "Jalan berlubang di depan sekolah")
        res = client.open(req.path, method=req.method, headers=dict(req.headers), data=req.body)
        assert res.status_code == 200
    sms = providers["sms"]
    sms.delay = 0.3
    try:
        run_worker(burst=True, scheduler=False, runtime=runtime, send_threads=16)
    finally:
        sms.delay = 0.0

    with runtime.db.session(write=False) as session:
        replies = session.scalars(select(Message).where(Message.direction == "out")).all()
        sends = session.scalars(select(Job).where(Job.kind == "send_message")).all()
    assert len(replies) == len(senders)
    assert {r.delivery_status for r in replies} == {"sent"}
    assert all(r.provider_message_id and r.sent_at for r in replies)
    assert {j.status for j in sends} == {"done"} and {j.attempts for j in sends} == {1}
    # One claim for the whole batch: the same start time on every send job.
    assert len({j.started_at for j in sends}) == 1
    for sender in senders:
        to = "62" + sender[1:]
        calls = [r for r in sms.requests if r.path == "/sms/json" and r.form().get("to") == to]
        assert len(calls) == 1, sender


def test_results_recorded_together_apply_receipts_that_came_first(runtime: Any) -> None:
    """A delivery receipt can reach its webhook before the send's result is recorded; the batched
    record applies it, and records the others with one statement."""
    from adapters.base import OutboundMessage, SendResult
    from gateway.messages.outgoing import queue_message_id
    from gateway.store.models import DeliveryReceipt
    from gateway.work.handlers.send import SendMessage, _Send

    with runtime.db.session() as session:
        ids = [
            queue_message_id(
                session,
                channel="sms",
                address=f"tel:+6281255500{n:02d}",
                text="Di mana lokasinya?",
                contact_id=None,
                dedupe_key=f"test-end-many-{n}",
            )
            for n in range(3)
        ]
        session.add(DeliveryReceipt(channel="sms", provider_message_id="P-1", status="delivered", raw={}))

    def state(message_id: int, n: int) -> _Send:
        to = f"tel:+6281255500{n:02d}"
        outbound = OutboundMessage(channel="sms", to=to, text="Di mana lokasinya?")
        return _Send(message_id, "sms", to, None, outbound, 0, to, "sms", None)

    with runtime.db.session() as session:
        SendMessage().end(
            runtime,
            session,
            [(state(message_id, n), SendResult(f"P-{n}", status="sent")) for n, message_id in enumerate(ids)],
        )
    with runtime.db.session(write=False) as session:
        rows = {m.id: m for m in session.scalars(select(Message).where(Message.id.in_(ids)))}
        receipt = session.scalars(select(DeliveryReceipt)).one()
    assert [rows[i].provider_message_id for i in ids] == ["P-0", "P-1", "P-2"]
    assert [rows[i].delivery_status for i in ids] == ["sent", "delivered", "sent"]
    assert all(rows[i].sent_at is not None for i in ids)
    assert receipt.applied


def test_no_more_sends_are_claimed_than_free_threads_call_at_once(
    runtime: Any, providers: dict[str, Any]
) -> None:
    """A claimed send must not wait for a thread: a worker killed then would leave it claimed
    though never attempted. With 2 send threads and 6 replies recorded together, at most 2 are
    ever claimed (``sending``/``calling``) at a time, and each is still sent once."""
    from gateway.store.models import Contact

    with runtime.db.session() as session:
        contact = Contact()
        session.add(contact)
        session.flush()
        messages = [
            Message(
                direction="out",
                channel="sms",
                contact_id=contact.id,
                address=f"tel:+62812555000{n}",
                text="Laporan Anda sudah kami terima.",
                author="bot",
                delivery_status="pending",
                payload={},
            )
            for n in range(6)
        ]
        session.add_all(messages)
        session.flush()
        jobs = [Job(kind="send_message", payload={"message_id": m.id}) for m in messages]
        session.add_all(jobs)
        session.flush()
        job_ids = [j.id for j in jobs]

    most = 0
    done = threading.Event()

    def watch() -> None:
        nonlocal most
        while not done.is_set():
            with runtime.db.session(write=False) as session:
                claimed = session.scalar(
                    select(func.count(Message.id)).where(Message.delivery_status.in_(("sending", "calling")))
                )
            most = max(most, int(claimed or 0))
            time.sleep(0.01)

    sms = providers["sms"]
    sms.delay = 0.3
    watcher = threading.Thread(target=watch)
    watcher.start()
    worker = runner.JobRunner(runtime, send_threads=2)
    try:
        for job_id in job_ids:  # as rq delivers them, one at a time
            runner.run_job(worker, job_id)
        assert worker.pool is not None
        worker.pool.drain()
    finally:
        worker.close()
        sms.delay = 0.0
        done.set()
        watcher.join()

    assert 0 < most <= 2, most
    with runtime.db.session(write=False) as session:
        statuses = session.scalars(select(Message.delivery_status).where(Message.direction == "out")).all()
    assert set(statuses) == {"sent"}
    to = [r.form().get("to") for r in sms.requests if r.path == "/sms/json"]
    assert sorted(to) == [f"62812555000{n}" for n in range(6)]


def test_a_send_rq_delivers_is_claimed_only_once_a_thread_is_free(runtime: Any) -> None:
    """rq hands the worker one send job; while every send thread is busy, the job must wait
    unclaimed (a kill then loses nothing), not wait claimed for a thread."""
    from gateway.store.models import Contact

    with runtime.db.session() as session:
        contact = Contact()
        session.add(contact)
        session.flush()
        message = Message(
            direction="out",
            channel="sms",
            contact_id=contact.id,
            address="tel:+6281255500099",
            text="Laporan Anda sudah kami terima.",
            author="bot",
            delivery_status="pending",
            payload={},
        )
        session.add(message)
        session.flush()
        job = Job(kind="send_message", payload={"message_id": message.id})
        session.add(job)
        session.flush()
        message_id, job_id = message.id, job.id

    def status() -> str | None:
        with runtime.db.session(write=False) as session:
            return session.scalar(select(Message.delivery_status).where(Message.id == message_id))

    worker = runner.JobRunner(runtime, send_threads=2)
    pool = worker.pool
    assert pool is not None
    slow_call = threading.Event()
    for _ in range(2):  # every send thread is taken (slow provider calls, say)
        pool.reserve()
        pool.run_reserved(slow_call.wait)
    rq_loop = threading.Thread(target=runner.run_job, args=(worker, job_id))
    try:
        rq_loop.start()
        time.sleep(0.5)
        assert status() == "pending"  # not claimed while no thread can call at once
        slow_call.set()
        rq_loop.join(timeout=10)
        pool.drain()
    finally:
        slow_call.set()
        worker.close()
    assert status() == "sent"
