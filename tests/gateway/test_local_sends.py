"""A worker with send threads claims its own replies together and records them together.

Runs the real worker loop (`run_worker`, burst mode, rq's SimpleWorker) in this process
against the loopback SMS aggregator; the stand-in answers slowly, so the replies are in
flight at the same time.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from adapters import adapter_class
from gateway.jobs import runner
from gateway.models import Job, Message
from gateway.worker import run_worker


class _KeepOpen:
    """The fixture's runtime without `close` (the worker closes its runtime when it ends)."""

    def __init__(self, runtime: Any) -> None:
        self._runtime = runtime

    def close(self) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._runtime, name)


def test_replies_of_a_batch_are_claimed_together_and_each_sent_once(
    client: Any, runtime: Any, providers: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Normally a batch commits every 10 ms so that webhooks need not wait; here the whole batch
    # shares one transaction, so its replies reach the send threads as one list.
    monkeypatch.setattr(runner, "BATCH_TRANSACTION_SECONDS", 30.0)
    adapter = adapter_class("sms").from_env(runtime.settings.env)
    senders = [f"08124440{n:04d}" for n in range(12)]
    for sender in senders:
        req = adapter.simulate(sender, "Jalan berlubang di depan sekolah")
        res = client.open(req.path, method=req.method, headers=dict(req.headers), data=req.body)
        assert res.status_code == 200
    sms = providers["sms"]
    sms.delay = 0.3
    try:
        run_worker(burst=True, scheduler=False, runtime=_KeepOpen(runtime), send_threads=16)  # type: ignore[arg-type]
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
