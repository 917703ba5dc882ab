"""rq's registries tell the truth: a job the outbox runs to the end is never in rq's failed registry.

`rq info` showed "failed" jobs whose outbox rows were done, each with an ERROR traceback. Jobs
that retry or give up (RetryLater, GiveUp) end inside the runner and never reach rq; what did
reach rq was a database error around a job (its claim, or the write of its outcome): rq
recorded a failure with a traceback, then the reconciler pushed the still-pending row again and
it ran to the end. Such an error is not the job failing: `execute` leaves the row to the
reconciler and tells rq the job is finished.

Real database, Redis and rq worker; the database refuses the claim through a trigger, as a
database that refuses writes (disk full, read-only, a failover) would.
"""

from __future__ import annotations

import json
from typing import Any

from rq.registry import FailedJobRegistry
from sqlalchemy import select, text

from adapters.sms.signature import vonage_signature
from gateway.devtools.loopback.server import Reply
from gateway.store.models import Job
from gateway.work.outbox import record_job
from gateway.work.scheduler import reconcile
from gateway.work.worker import run_worker
from tests.gateway.test_observability import vonage_inbound


def _refuse_job_updates(runtime: Any) -> None:
    with runtime.db.engine.begin() as conn:
        if runtime.db.is_sqlite:
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_claims BEFORE UPDATE ON jobs "
                    "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_claims() RETURNS trigger AS $$ BEGIN "
                    "RAISE EXCEPTION 'could not write to file'; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_claims BEFORE UPDATE ON jobs "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_claims()"
                )
            )


def _accept_job_updates(runtime: Any) -> None:
    with runtime.db.engine.begin() as conn:
        if runtime.db.is_sqlite:
            conn.execute(text("DROP TRIGGER refuse_claims"))
        else:
            conn.execute(text("DROP TRIGGER refuse_claims ON jobs"))
            conn.execute(text("DROP FUNCTION refuse_claims()"))


def test_a_database_error_at_the_claim_is_no_rq_failure_and_the_job_still_runs(runtime: Any) -> None:
    with runtime.db.session() as session:
        job_id = record_job(session, "receipt_cleanup_noop", {})
    failed = FailedJobRegistry(queue=runtime.queue.queue)
    _refuse_job_updates(runtime)
    try:
        run_worker(burst=True, runtime=runtime, send_threads=1, scheduler=False)
    finally:
        _accept_job_updates(runtime)
    assert failed.count == 0, [failed.get_job_ids()]
    with runtime.db.session() as session:
        assert session.scalar(select(Job.status).where(Job.id == job_id)) == "pending"
    # The reconciler finds the row missing from Redis and pushes it again; this time it runs.
    with runtime.db.session() as session:
        session.execute(Job.__table__.update().where(Job.id == job_id).values(enqueued_at=None))
    reconcile(runtime)
    run_worker(burst=True, runtime=runtime, send_threads=1, scheduler=False)
    with runtime.db.session() as session:
        assert session.scalar(select(Job.status).where(Job.id == job_id)) == "failed"  # no such handler
    assert failed.count == 0


def test_jobs_that_retry_then_end_leave_rqs_failed_registry_empty(
    client: Any, runtime: Any, settings: Any, providers: Any
) -> None:
    secret = settings.env["SMS_SIGNATURE_SECRET"]
    providers["sms"].fail_next(*[Reply(500, {"error": "busy"}) for _ in range(3)])
    for n in range(5):
        body = vonage_inbound(secret, f"HALO {n}", f"0C000000000000{n:02d}")
        body["msisdn"] = f"62812345670{n:02d}"
        body.pop("sig")
        body["sig"] = vonage_signature(body, secret)
        answer = client.post("/webhooks/sms", data=json.dumps(body), content_type="application/json")
        assert answer.status_code == 200
    for _ in range(4):
        run_worker(burst=True, runtime=runtime, send_threads=4)
    with runtime.db.session() as session:
        retried = session.scalars(select(Job.id).where(Job.last_error.is_not(None))).all()
    calls = [r for r in providers["sms"].requests if r.path == "/sms/json"]
    # RetryLater happened: a job still waits with its error, or one already ran again to its end
    # (its error cleared; the provider was called more often than there are messages) ...
    assert retried or len(calls) > 5
    assert FailedJobRegistry(queue=runtime.queue.queue).count == 0  # ... and rq was not told of it
