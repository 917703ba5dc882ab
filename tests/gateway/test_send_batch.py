"""The sends of a batch are read with one statement and claimed with one conditional UPDATE
(`SendMessage.read` / `begin` of a batch, used by `gateway.work.local_batch`); each message must
end exactly as if it had been read and begun alone, and no message may be claimed twice.

Real database and Redis; the messages and their jobs are rows written here, the sends go to
the loopback providers through the real worker path where a send is made.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from adapters.base import OutboundMessage
from gateway.store.models import Contact, ContactAddress, Job, Message, utcnow
from gateway.work import local_batch, runner
from gateway.work.handlers.send import SendMessage, ambiguous_policy
from gateway.work.kinds import KINDS, handlers_of

HANDLERS = handlers_of(KINDS)


def _contact(session: Any, *, opted_out: bool = False) -> int:
    contact = Contact(opted_out=opted_out)
    session.add(contact)
    session.flush()
    return contact.id


def _address(session: Any, contact_id: int, address: str, **fields: Any) -> None:
    session.add(ContactAddress(contact_id=contact_id, address=address, channel="sms", **fields))


def _message(session: Any, **fields: Any) -> int:
    values: dict[str, Any] = {
        "direction": "out",
        "channel": "sms",
        "text": "Laporan Anda sudah kami terima.",
        "author": "bot",
        "delivery_status": "pending",
        "payload": {},
    } | fields
    message = Message(**values)
    session.add(message)
    session.flush()
    return message.id


def _jobs(session: Any, message_ids: list[int]) -> list[int]:
    jobs = [Job(kind="send_message", payload={"message_id": mid}) for mid in message_ids]
    session.add_all(jobs)
    session.flush()
    return [job.id for job in jobs]


def _mixed(runtime: Any) -> dict[str, int]:
    """One message of each case `read` decides, by name."""
    with runtime.db.session() as session:
        citizen = _contact(session)
        _address(session, citizen, "tel:+6281200000001")
        stopped = _contact(session, opted_out=True)
        _address(session, stopped, "tel:+6281200000002")
        blocked = _contact(session)
        _address(session, blocked, "tel:+6281200000003", unreachable=True)
        # WhatsApp, window closed, no template configured: by SMS to the contact's phone...
        fallback = _contact(session)
        _address(session, fallback, "whatsapp:+6281200000004", last_inbound_at=utcnow() - timedelta(days=2))
        _address(session, fallback, "tel:+6281200000004")
        # ... or, with no phone at all, wait for the citizen's next message.
        silent = _contact(session)
        _address(session, silent, "whatsapp:ID.silent", last_inbound_at=utcnow() - timedelta(days=2))
        ids = {
            "pending": _message(session, contact_id=citizen, address="tel:+6281200000001"),
            "sent": _message(
                session, contact_id=citizen, address="tel:+6281200000001", delivery_status="sent"
            ),
            # A dead worker's send, cut off during its provider call (SMS cannot be asked): held.
            "interrupted": _message(
                session, contact_id=citizen, address="tel:+6281200000001", delivery_status="calling"
            ),
            # A dead worker's claim, its call never started: sent again.
            "never_called": _message(
                session,
                contact_id=citizen,
                address="tel:+6281200000001",
                delivery_status="sending",
                attempts=1,
            ),
            "opted_out_notice": _message(
                session,
                contact_id=stopped,
                address="tel:+6281200000002",
                payload={"purpose": "notification"},
            ),
            # STOP holds back notifications only: a reply to the citizen's own message still goes.
            "opted_out_reply": _message(session, contact_id=stopped, address="tel:+6281200000002"),
            "unreachable": _message(session, contact_id=blocked, address="tel:+6281200000003"),
            "window_fallback": _message(
                session,
                channel="whatsapp",
                contact_id=fallback,
                address="whatsapp:+6281200000004",
                payload={"purpose": "notification"},
            ),
            "window_waits": _message(
                session,
                channel="whatsapp",
                contact_id=silent,
                address="whatsapp:ID.silent",
                payload={"purpose": "notification"},
            ),
            "channel_off": _message(session, channel="carrier-pigeon", address="tel:+6281200000001"),
            "inbound": _message(session, direction="in", address="tel:+6281200000001", delivery_status=None),
            "changed": _message(session, contact_id=citizen, address="tel:+6281200000001"),
        }
    return ids


def _rows(runtime: Any, ids: list[int]) -> dict[int, Message]:
    with runtime.db.session(write=False) as session:
        return {m.id: m for m in session.scalars(select(Message).where(Message.id.in_(ids)))}


def test_a_batch_is_read_as_each_message_alone_would_be(runtime: Any) -> None:
    ids = _mixed(runtime)
    payloads = [{"message_id": mid} for mid in ids.values()]
    payloads += [{"message_id": 10**9}, {"message_id": ids["pending"]}]  # a gone message; a repeat
    stage = SendMessage()
    with runtime.db.session(write=False) as session:
        alone = [stage.read(runtime, session, [dict(p)])[0] for p in payloads]
        together = stage.read(runtime, session, [dict(p) for p in payloads])
    assert together == alone
    decided = dict(zip([*ids, "gone", "repeat"], together, strict=True))
    assert decided["sent"] is None and decided["inbound"] is None and decided["gone"] is None
    assert decided["window_fallback"].send.channel == "sms"
    assert decided["window_fallback"].send.address == "tel:+6281200000004"
    assert decided["window_waits"].status == "waiting"


def test_a_batch_claim_ends_each_message_in_its_own_state(runtime: Any) -> None:
    ids = _mixed(runtime)
    names = list(ids)
    stage = SendMessage()
    payloads = [{"message_id": ids[name]} for name in names]
    with runtime.db.session(write=False) as session:
        seen = stage.read(runtime, session, payloads)
    # Between the look and the claim another worker took one of them.
    with runtime.db.session() as session:
        session.execute(update(Message).where(Message.id == ids["changed"]).values(delivery_status="sending"))
    with runtime.db.session() as session:
        started = stage.begin(runtime, session, list(zip(payloads, seen, strict=True)))
    result = dict(zip(names, started, strict=True))
    assert {name for name, state in result.items() if state is not None} == {
        "pending",
        "never_called",
        "opted_out_reply",
        "window_fallback",
    }
    assert result["window_fallback"].channel == "sms"

    rows = _rows(runtime, list(ids.values()))
    state = {
        name: (rows[mid].delivery_status, rows[mid].error_code, rows[mid].attempts)
        for name, mid in ids.items()
    }
    assert state == {
        "pending": ("sending", None, 1),
        "sent": ("sent", None, 0),
        "interrupted": ("failed", "interrupted", 0),
        "never_called": ("sending", None, 2),
        "opted_out_notice": ("failed", "opted_out", 0),
        "opted_out_reply": ("sending", None, 1),
        "unreachable": ("failed", "unreachable", 0),
        "window_fallback": ("sending", None, 1),
        "window_waits": ("waiting", None, 0),
        "channel_off": ("failed", "channel_off", 0),
        "inbound": (None, None, 0),
        "changed": ("sending", None, 0),  # as the other worker left it: not claimed again
    }
    assert rows[ids["interrupted"]].status_at is not None and rows[ids["interrupted"]].failure_reason


def test_the_batch_path_sends_each_once_and_records_every_outcome(
    runtime: Any, providers: dict[str, Any]
) -> None:
    ids = _mixed(runtime)
    del ids["changed"]
    with runtime.db.session() as session:
        jobs = dict(zip(ids, _jobs(session, list(ids.values())), strict=True))
    worker = runner.JobRunner(runtime, send_threads=4)
    try:
        for job_id in jobs.values():  # as rq delivers them: each takes as many due sends as threads are free
            runner.run_job(worker, job_id)
        assert worker.pool is not None
        worker.pool.drain()
    finally:
        worker.close()

    rows = _rows(runtime, list(ids.values()))
    status = {name: rows[mid].delivery_status for name, mid in ids.items()}
    assert status == {
        "pending": "sent",
        "sent": "sent",
        "interrupted": "failed",
        "never_called": "sent",
        "opted_out_notice": "failed",
        "opted_out_reply": "sent",
        "unreachable": "failed",
        "window_fallback": "sent",
        "window_waits": "waiting",
        "channel_off": "failed",
        "inbound": None,
    }
    assert rows[ids["window_fallback"]].channel == "sms"  # recorded as sent by the fallback
    with runtime.db.session(write=False) as session:
        job_rows = session.scalars(select(Job).where(Job.id.in_(jobs.values()))).all()
    assert {j.status for j in job_rows} == {"done"}
    sms = providers["sms"]
    to = [r.form().get("to") for r in sms.requests if r.path == "/sms/json"]
    assert sorted(to) == ["6281200000001", "6281200000001", "6281200000002", "6281200000004"]


def test_a_message_is_claimed_once_within_a_batch_and_across_claimers(runtime: Any) -> None:
    with runtime.db.session() as session:
        citizen = _contact(session)
        _address(session, citizen, "tel:+6281200000009")
        messages = [_message(session, contact_id=citizen, address="tel:+6281200000009") for _ in range(12)]
        # Every message has three send jobs (a double enqueue, say): two in one batch, one in another.
        first = _jobs(session, messages + messages)
        second = _jobs(session, messages)

    results: list[list[Any]] = []
    gate = threading.Barrier(2)

    def claim(job_ids: list[int]) -> None:
        gate.wait()
        started, _finished, alone = local_batch._claim(runtime, HANDLERS, job_ids)
        assert alone == []
        results.append(started)

    threads = [threading.Thread(target=claim, args=(ids,)) for ids in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    claimed = [item.state.message_id for started in results for item in started]
    assert sorted(claimed) == sorted(messages)  # each message started exactly once
    rows = _rows(runtime, messages)
    assert {(m.delivery_status, m.attempts) for m in rows.values()} == {("sending", 1)}
    with runtime.db.session(write=False) as session:
        statuses = dict(session.execute(select(Job.id, Job.status).where(Job.id.in_(first + second))).all())
    started_jobs = {item.job_id for started in results for item in started}
    assert {statuses[j] for j in started_jobs} == {"running"}
    assert {statuses[j] for j in set(first + second) - started_jobs} == {"done"}


def test_a_message_another_job_is_sending_is_left_alone_not_marked_interrupted(runtime: Any) -> None:
    with runtime.db.session() as session:
        citizen = _contact(session)
        _address(session, citizen, "tel:+6281200000010")
        message = _message(session, contact_id=citizen, address="tel:+6281200000010")
        first, second = _jobs(session, [message, message])
    stage = SendMessage()
    # The first job is at the provider: claimed (running) and the message marked sending.
    claimed, _finished, _alone = local_batch._claim(runtime, HANDLERS, [first])
    assert [item.state.message_id for item in claimed] == [message]

    with runtime.db.session(write=False) as session:
        assert stage.read(runtime, session, [{"message_id": message}]) == [None]
    started, finished, _alone = local_batch._claim(runtime, HANDLERS, [second])
    assert started == [] and finished == [second]  # nothing to do: the first one sends it
    assert _rows(runtime, [message])[message].delivery_status == "sending"

    # The first job's worker died before the call: the reconciler puts its job back to pending;
    # run again, it finds the message claimed, never marked as called, and nobody sending it:
    # it was never attempted, so it is sent.
    with runtime.db.session() as session:
        session.execute(update(Job).where(Job.id == first).values(status="pending"))
    with runtime.db.session(write=False) as session:
        [decision] = stage.read(runtime, session, [{"message_id": message}])
    assert decision is not None and decision.send is not None and decision.code is None

    # Had the call started (marked ``calling``), the provider may have the message: SMS cannot
    # be asked, so by default it is held for operators as interrupted.
    stage.start(runtime, [item.state for item in claimed])
    assert _rows(runtime, [message])[message].delivery_status == "calling"
    with runtime.db.session(write=False) as session:
        [decision] = stage.read(runtime, session, [{"message_id": message}])
    assert decision is not None and decision.code == "interrupted"


def test_a_dead_workers_claim_is_taken_over_by_one_job_only(runtime: Any) -> None:
    """Two jobs recovering the same never-called claim: the claim does not change its status,
    so the attempts tell them apart and only one sends."""
    with runtime.db.session() as session:
        citizen = _contact(session)
        _address(session, citizen, "tel:+6281200000012")
        message = _message(
            session, contact_id=citizen, address="tel:+6281200000012", delivery_status="sending", attempts=1
        )
    stage = SendMessage()
    payload = {"message_id": message}
    with runtime.db.session(write=False) as session:
        one, two = stage.read(runtime, session, [payload]) + stage.read(runtime, session, [payload])
    assert one is not None and one.send is not None
    with runtime.db.session() as session:
        first = stage.begin(runtime, session, [(payload, one)])
    with runtime.db.session() as session:
        second = stage.begin(runtime, session, [(payload, two)])
    assert first[0] is not None and second == [None]
    assert _rows(runtime, [message])[message].attempts == 2


@pytest.mark.parametrize(
    ("setting", "policy", "held"),
    [
        ({}, "hold", True),
        ({"LAPOR_AMBIGUOUS_SENDS": "resend"}, "resend", False),
        ({"LAPOR_AMBIGUOUS_SENDS": "resend", "LAPOR_AMBIGUOUS_SENDS_SMS": "hold"}, "hold", True),
        ({"LAPOR_AMBIGUOUS_SENDS_SMS": "resend"}, "resend", False),
    ],
)
def test_a_send_cut_off_during_its_call_follows_the_channels_policy(
    runtime: Any, monkeypatch: pytest.MonkeyPatch, setting: dict[str, str], policy: str, held: bool
) -> None:
    for name, value in setting.items():
        monkeypatch.setitem(runtime.settings.env, name, value)
    assert ambiguous_policy(runtime, "sms") == policy
    with runtime.db.session() as session:
        citizen = _contact(session)
        _address(session, citizen, "tel:+6281200000013")
        message = _message(
            session, contact_id=citizen, address="tel:+6281200000013", delivery_status="calling", attempts=1
        )
    with runtime.db.session(write=False) as session:
        [decision] = SendMessage().read(runtime, session, [{"message_id": message}])
    assert decision is not None
    assert (decision.code == "interrupted") is held
    assert (decision.send is not None) is not held


def test_a_twilio_send_cut_off_during_its_call_is_looked_up_at_twilio(
    runtime: Any, providers: dict[str, Any]
) -> None:
    """Twilio can be asked: a message it accepted before the worker died is recorded as sent with
    Twilio's id and not sent again; one it never got is sent now, once."""
    twilio = providers["twilio"]
    adapter = runtime.adapter("twilio")
    text = "Laporan Anda sudah kami terima."
    with runtime.db.session() as session:
        citizen = _contact(session)
        ids = {
            name: _message(
                session,
                channel="twilio",
                contact_id=citizen,
                address=address,
                delivery_status="calling",
                attempts=1,
                status_at=utcnow(),
            )
            for name, address in (("reached", "tel:+6281200000021"), ("lost", "tel:+6281200000022"))
        }
        jobs = dict(zip(ids, _jobs(session, list(ids.values())), strict=True))
    # The dead worker's call reached Twilio for one of them (its answer never read).
    accepted = adapter.send(OutboundMessage("twilio", "tel:+6281200000021", text))
    posts_before = sum(1 for r in twilio.requests if r.method == "POST")

    for job_id in jobs.values():
        assert runner.run_job(runner.JobRunner(runtime), job_id, hand_off=False) == "done"

    rows = _rows(runtime, list(ids.values()))
    reached, lost = rows[ids["reached"]], rows[ids["lost"]]
    assert (reached.delivery_status, reached.provider_message_id) == ("queued", accepted.provider_message_id)
    assert lost.delivery_status == "queued" and lost.provider_message_id != accepted.provider_message_id
    created = [m["to"] for m in twilio.sent]
    assert sorted(created) == ["+6281200000021", "+6281200000022"]  # one each
    assert sum(1 for r in twilio.requests if r.method == "POST") == posts_before + 1
    assert sum(1 for r in twilio.requests if r.method == "GET" and r.path.endswith("/Messages.json")) == 2


def test_the_test_only_pause_before_a_call_needs_the_testing_flag(
    runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``LAPOR_TEST_PAUSE_BEFORE_CALL`` exists for the fault tests only: a production worker
    (no ``LAPOR_TESTING=1``, settings not in testing mode) ignores it."""
    monkeypatch.setitem(runtime.settings.env, "LAPOR_TEST_PAUSE_BEFORE_CALL", "0.5")
    stage = SendMessage()
    monkeypatch.setattr(runtime, "settings", replace(runtime.settings, testing=False))
    began = time.monotonic()
    stage.start(runtime, [])
    assert time.monotonic() - began < 0.25
    monkeypatch.setitem(runtime.settings.env, "LAPOR_TESTING", "1")
    began = time.monotonic()
    stage.start(runtime, [])
    assert time.monotonic() - began >= 0.5
