"""The engine's config snapshot: one per turn, rebuilt on a file change, the same for reply and ticket."""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import select

from adapters.sms import SmsAdapter
from config.settings import Settings
from gateway.models import Message, Ticket
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
    tmp_path: Path, settings: Settings, drain: Any
) -> None:
    from gateway.app import create_app
    from gateway.demo import sync_agencies
    from gateway.jobs.runner import set_runtime
    from gateway.runtime import Runtime
    from gateway.tickets import policy

    folder = deploy_folder(tmp_path)
    env = {**settings.env, "LAPOR_CONFIG_DIR": str(folder)}
    runtime = Runtime(replace(settings, env=env, config_dir=str(folder)))
    set_runtime(runtime)
    try:
        sync_agencies(runtime)
        client = create_app(runtime=runtime, WTF_CSRF_ENABLED=False).test_client()
        adapter = SmsAdapter.from_env(runtime.settings.env)
        _post(client, adapter, "LAPOR#jalan#Jl. Merdeka#Lubang besar di tengah jalan dekat pasar", "m-1")
        drain()
        # The deployer gives the coordinator more time while the citizen is at the summary.
        _edit(folder / "lifecycle.yaml", "verify: 3 ", "verify: 7 ")
        runtime.reload_config()  # as SIGHUP does; a file watch would find it within a second
        _post(client, adapter, "YA", "m-2")
        drain()
        with runtime.db.session() as session:
            ticket = session.scalars(select(Ticket)).one()
            texts = [m.text for m in session.scalars(select(Message).where(Message.direction == "out"))]
            filed = next(t for t in texts if f"#{ticket.tracking}" in t and "hari kerja" in t)
            promised = int(re.search(r"dalam (\d+) hari kerja", filed).group(1))  # type: ignore[union-attr]
            start = policy.today(runtime, ticket.created_at)
            assert promised == 7
            assert ticket.deadline == policy.calendar(runtime).deadline(start, "verify", {"verify": promised})
    finally:
        set_runtime(None)
        runtime.close()
