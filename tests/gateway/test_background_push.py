"""The web process pushes its jobs to Redis from a thread of its own (`BackgroundPusher`).

A webhook answers once its rows are committed; the push follows a moment later. These
tests check that every id handed over reaches rq's queue once, from many request threads
at once, that the app's webhooks work that way end to end, and that a Redis that does not
answer loses nothing the reconciler cannot bring back.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import select

from adapters import adapter_class
from gateway.store.models import Job
from gateway.work.queue import JobQueue, rq_job_id
from gateway.work.scheduler import reconcile


def _queued(queue: JobQueue) -> list[str]:
    return [key.decode() for key in queue.redis.lrange(queue.queue.key, 0, -1)]


def test_ids_from_many_threads_reach_the_queue_once(redis_url: str) -> None:
    queue = JobQueue(redis_url)
    queue.redis.flushdb()
    queue.push_in_background()

    def hand_over(start: int) -> None:
        for n in range(start, start + 100):
            assert queue.push_many([n]) is True

    threads = [threading.Thread(target=hand_over, args=(1000 * t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert queue._background is not None and queue._background.flush(5.0)
    queued = _queued(queue)
    expected = {rq_job_id(1000 * t + n) for t in range(8) for n in range(100)}
    assert len(queued) == len(expected) and set(queued) == expected
    # Written as rq writes them (tests/gateway/test_job_queue.py compares the fields).
    assert queue.redis.hgetall(f"rq:job:{rq_job_id(1000)}")[b"status"] == b"queued"
    queue.redis.flushdb()


def test_a_webhook_in_background_mode_answers_and_its_job_reaches_redis(
    app: Any, client: Any, runtime: Any
) -> None:
    runtime.queue.push_in_background()
    adapter = adapter_class("sms").from_env(runtime.settings.env)
    req = adapter.simulate("081255500001", "Jalan rusak di depan pasar")
    res = client.open(req.path, method=req.method, headers=dict(req.headers), data=req.body)
    assert res.status_code == 200
    assert runtime.queue._background.flush(5.0)
    with runtime.db.session(write=False) as session:
        job_id = session.scalar(select(Job.id).where(Job.kind == "process_inbound"))
    assert job_id is not None and _queued(runtime.queue) == [rq_job_id(job_id)]


def test_ids_redis_did_not_take_are_pushed_again_by_the_reconciler(client: Any, runtime: Any) -> None:
    live = runtime.queue
    live.push_in_background()
    # Redis "down" for the background thread: a queue pointed at a port nobody listens on.
    dead = JobQueue("redis://127.0.0.1:1/0")
    live._background._queue = dead
    adapter = adapter_class("sms").from_env(runtime.settings.env)
    req = adapter.simulate("081255500002", "Lampu jalan padam")
    res = client.open(req.path, method=req.method, headers=dict(req.headers), data=req.body)
    assert res.status_code == 200  # the row is committed: the provider need not retry
    assert live._background.flush(10.0)
    assert _queued(live) == []
    with runtime.db.session() as session:
        # The reconciler judges lost pushes by enqueued_at: make this one old enough.
        job = session.scalars(select(Job).where(Job.kind == "process_inbound")).one()
        job.enqueued_at = job.enqueued_at.replace(year=job.enqueued_at.year - 1)
        job_id = job.id
    live._background._queue = live
    reconcile(runtime)
    assert live._background.flush(5.0)
    assert _queued(live) == [rq_job_id(job_id)]
