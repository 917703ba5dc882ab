"""The engine's config snapshot: one per turn, rebuilt on a file change, the same for reply and ticket."""

from __future__ import annotations

import logging
import os
import re
import signal
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from adapters.sms import SmsAdapter
from config.settings import Settings
from gateway.store.models import Message, Ticket
from tests.catalogue import deploy_folder


def _post(client: Any, adapter: SmsAdapter, text: str, message_id: str) -> None:
    req = adapter.simulate("081234567890", text, message_id=message_id)
    response = client.open(req.path, method=req.method, headers=dict(req.headers), data=req.body)
    assert response.status_code == 200


def _edit(path: Path, old: str, new: str) -> None:
    """Rewrite a config file and move its modification time on, as a deployer's save does."""
    path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    stamp = path.stat().st_mtime + 5
    os.utime(path, (stamp, stamp))


def test_the_filed_reply_and_the_ticket_agree_on_the_deadline_after_a_config_edit(
    tmp_path: Path, settings: Settings
) -> None:
    from gateway.app import create_app
    from gateway.devtools.demo import sync_agencies
    from gateway.runtime import Runtime
    from gateway.tickets import policy
    from tests.helpers import drain_jobs

    folder = deploy_folder(tmp_path)
    env = {**settings.env, "LAPOR_CONFIG_DIR": str(folder)}
    runtime = Runtime(replace(settings, env=env, config_dir=str(folder)))
    try:
        sync_agencies(runtime)
        client = create_app(runtime=runtime, WTF_CSRF_ENABLED=False).test_client()
        adapter = SmsAdapter.from_env(runtime.settings.env)
        _post(client, adapter, "LAPOR#jalan#Jl. Merdeka#Lubang besar di tengah jalan dekat pasar", "m-1")
        drain_jobs(runtime)
        # The deployer gives the coordinator more time while the citizen is at the summary.
        _edit(folder / "lifecycle.yaml", "verify: 3 ", "verify: 7 ")
        runtime.reload_config()  # as SIGHUP does; a file watch would find it within a second
        _post(client, adapter, "YA", "m-2")
        drain_jobs(runtime)
        with runtime.db.session() as session:
            ticket = session.scalars(select(Ticket)).one()
            texts = [m.text for m in session.scalars(select(Message).where(Message.direction == "out"))]
            filed = next(t for t in texts if f"#{ticket.tracking}" in t and "hari kerja" in t)
            promised = int(re.search(r"dalam (\d+) hari kerja", filed).group(1))  # type: ignore[union-attr]
            start = policy.today(runtime, ticket.created_at)
            assert promised == 7
            assert ticket.deadline == policy.calendar(runtime).deadline(start, "verify", {"verify": promised})
    finally:
        runtime.close()


class _Clock:
    """A monotonic clock the test moves by hand (the source takes any clock)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_edit_shows_within_a_second_and_not_before(tmp_path: Path) -> None:
    from gateway.config_snapshot import ConfigSource

    folder = deploy_folder(tmp_path)
    clock = _Clock()
    source = ConfigSource({"LAPOR_CONFIG_DIR": str(folder)}, clock=clock)
    first = source.current()
    assert first.deadlines()["verify"] == 3
    _edit(folder / "lifecycle.yaml", "verify: 3 ", "verify: 7 ")
    clock.now += 0.5
    assert source.current() is first  # looked at no more than once a second
    clock.now += 0.5
    assert source.current().deadlines()["verify"] == 7
    assert first.deadlines()["verify"] == 3  # a snapshot handed out never changes


def test_an_unchanged_folder_keeps_its_snapshot(tmp_path: Path) -> None:
    from gateway.config_snapshot import ConfigSource

    clock = _Clock()
    source = ConfigSource({"LAPOR_CONFIG_DIR": str(deploy_folder(tmp_path))}, clock=clock)
    first = source.current()
    clock.now += 5
    assert source.current() is first


def test_a_broken_edit_keeps_the_last_good_snapshot_and_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from gateway.config_snapshot import ConfigSource

    folder = deploy_folder(tmp_path)
    clock = _Clock()
    source = ConfigSource({"LAPOR_CONFIG_DIR": str(folder)}, clock=clock)
    first = source.current()
    _edit(folder / "lifecycle.yaml", "verify: 3 ", "verify: tiga ")
    clock.now += 1
    with caplog.at_level(logging.ERROR, logger="gateway.config_snapshot"):
        assert source.current() is first
    assert any("lifecycle.yaml" in r.getMessage() and "verify" in r.getMessage() for r in caplog.records)
    _edit(folder / "lifecycle.yaml", "verify: tiga ", "verify: 4 ")
    clock.now += 1
    assert source.current().deadlines()["verify"] == 4


def test_sighup_rebuilds_the_snapshot(tmp_path: Path) -> None:
    from gateway.config_snapshot import ConfigSource, reload_on_sighup

    folder = deploy_folder(tmp_path)
    clock = _Clock()
    source = ConfigSource({"LAPOR_CONFIG_DIR": str(folder)}, clock=clock)
    first = source.current()
    # An edit that keeps the file's time (a restore from a backup): only SIGHUP notices it.
    path = folder / "lifecycle.yaml"
    before = path.stat()
    path.write_text(path.read_text(encoding="utf-8").replace("verify: 3 ", "verify: 6 "), encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    previous = signal.getsignal(signal.SIGHUP)
    try:
        reload_on_sighup(source.request_reload)
        os.kill(os.getpid(), signal.SIGHUP)
        assert source.current().deadlines()["verify"] == 6
    finally:
        signal.signal(signal.SIGHUP, previous)
    assert first.deadlines()["verify"] == 3


def test_a_ticket_is_due_by_the_deadlines_its_confirmation_promised(tmp_path: Path, runtime: Any) -> None:
    """The filed reply and the ticket share one table (CreateTicket.deadlines), so a reload
    between the engine's step and the ticket's creation cannot make them disagree."""
    from gateway.tickets import policy, service

    with runtime.db.session() as session:
        ticket = service.create_ticket(
            session,
            runtime,
            contact=None,
            description="Lubang besar di tengah jalan",
            category="jalan",
            location_text="Jl. Merdeka",
            source="message",
            deadlines={"verify": 9, "follow_up": 5},
        )
        session.commit()
        start = policy.today(runtime, ticket.created_at)
        assert runtime.config.deadlines("jalan")["verify"] == 3
        assert ticket.deadline == policy.calendar(runtime).deadline(start, "verify", {"verify": 9})
