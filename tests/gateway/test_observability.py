"""Request ids from the webhook's ack to its job and its reply's send, duplicates counted in
/metrics, the worker's own /metrics port, and gunicorn's counters summed over its workers.

Real database, Redis, rq worker, loopback aggregator, and for the web server the real
`lapor-gateway web` (gunicorn with two workers) in a child process.
"""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import select

from adapters.sms.signature import vonage_signature
from gateway.ops.logging_setup import JsonFormatter, request_context
from gateway.ops.metrics import prepare_multiprocess_dir, serve_worker_metrics
from gateway.store.models import Job

ROOT = Path(__file__).resolve().parents[2]


def vonage_inbound(secret: str, text: str, message_id: str) -> dict[str, str]:
    """An inbound SMS as Vonage posts it (JSON body), signed."""
    now = datetime.now(UTC)
    params = {
        "msisdn": "6281234567001",
        "to": "1708",
        "messageId": message_id,
        "text": text,
        "type": "text",
        "keyword": text.split()[0].upper(),
        "message-timestamp": now.strftime("%Y-%m-%d %H:%M:%S"),
        "timestamp": str(int(now.timestamp())),
        "nonce": str(uuid.uuid4()),
    }
    params["sig"] = vonage_signature(params, secret)
    return params


def _post(client: Any, params: dict[str, str], **headers: str) -> Any:
    return client.post(
        "/webhooks/sms", data=json.dumps(params), content_type="application/json", headers=headers
    )


def test_request_id_is_answered_and_kept_only_when_sane(client: Any) -> None:
    made = client.get("/healthz").headers["X-Request-ID"]
    assert len(made) == 32 and int(made, 16) >= 0
    assert (
        client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.01"}).headers["X-Request-ID"] == "lb-7f3a.01"
    )
    for bad in ("two words", "x" * 65, "+6281234567890", '"quoted"'):
        answered = client.get("/healthz", headers={"X-Request-ID": bad}).headers["X-Request-ID"]
        assert answered != bad and len(answered) == 32


def test_a_webhooks_request_id_reaches_its_job_and_its_replys_send(
    client: Any, runtime: Any, drain: Any, settings: Any
) -> None:
    secret = settings.env["SMS_SIGNATURE_SECRET"]
    answer = _post(client, vonage_inbound(secret, "HALO", "0B00000000000001"), **{"X-Request-ID": "ack-42"})
    assert answer.status_code == 200 and answer.headers["X-Request-ID"] == "ack-42"
    drain()
    with runtime.db.session() as session:
        jobs = session.execute(select(Job.kind, Job.payload)).all()
    kinds = {kind for kind, payload in jobs if payload.get("request_id") == "ack-42"}
    assert "process_inbound" in kinds and "send_message" in kinds, jobs


def test_json_lines_carry_the_request_id_of_their_context() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.request_id")
    logger.addHandler(handler)
    try:
        with request_context("ack-43"):
            logger.warning("send failed for %s", "+6281234567890")
        logger.warning("outside")
    finally:
        logger.removeHandler(handler)
    inside, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert inside["request_id"] == "ack-43" and "6281234567890" not in inside["message"]
    assert "request_id" not in outside


def test_a_providers_retry_is_counted_as_a_duplicate(client: Any, settings: Any) -> None:
    params = vonage_inbound(settings.env["SMS_SIGNATURE_SECRET"], "HALO lagi", "0B00000000000002")
    before = _duplicates(client)
    assert _post(client, params).status_code == 200
    assert _duplicates(client) == before  # the first delivery is no duplicate
    assert _post(client, params).status_code == 200  # Vonage retries the same message
    assert _duplicates(client) == before + 1


def _duplicates(client: Any) -> float:
    """``lapor_webhooks_total{channel="sms",result="duplicate"}`` as /metrics shows it (0 when absent;
    the counter lives as long as the test process)."""
    wanted = 'lapor_webhooks_total{channel="sms",result="duplicate"} '
    for line in client.get("/metrics").get_data(as_text=True).splitlines():
        if line.startswith(wanted):
            return float(line[len(wanted) :])
    return 0.0


def test_the_worker_serves_its_own_metrics(client: Any, settings: Any, drain: Any) -> None:
    server = serve_worker_metrics({"LAPOR_WORKER_METRICS_PORT": "0"})
    try:
        _post(client, vonage_inbound(settings.env["SMS_SIGNATURE_SECRET"], "HALO", "0B00000000000003"))
        drain()
        port = server.server_address[1]
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        assert 'lapor_send_seconds_count{channel="sms",outcome="sent"}' in text
        assert "lapor_job_failures_total" in text and "lapor_job_retries_total" in text
    finally:
        server.shutdown()
        server.server_close()
    assert serve_worker_metrics({}) is None


def test_a_fresh_metrics_dir_at_every_start(tmp_path: Path) -> None:
    named = tmp_path / "prom"
    named.mkdir()
    (named / "counter_123.db").write_bytes(b"old")
    (named / "keep.txt").write_text("not ours")
    env: dict[str, str] = {"PROMETHEUS_MULTIPROC_DIR": str(named)}
    assert prepare_multiprocess_dir(env) == str(named)
    assert sorted(p.name for p in named.iterdir()) == ["keep.txt"]
    env = {}
    made = prepare_multiprocess_dir(env)
    assert env["PROMETHEUS_MULTIPROC_DIR"] == made and os.path.isdir(made) and not os.listdir(made)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_web_sums_counters_over_its_workers_and_logs_json(settings: Any, tmp_path: Path) -> None:
    """`lapor-gateway web` with two gunicorn workers: every scrape reports every request."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env |= dict(settings.env) | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"}
    log = tmp_path / "web.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from gateway.cli import main; main()",
                "web",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "2",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.time() + 60
            while True:
                try:
                    requests.get(base + "/healthz", timeout=10)
                    break
                except requests.RequestException:
                    assert time.time() < deadline and proc.poll() is None, log.read_text()
                    time.sleep(0.2)
            for _ in range(12):  # refused (bad signature): counted, nothing stored
                requests.post(
                    base + "/webhooks/sms", json={"msisdn": "6281234567001", "sig": "0"}, timeout=10
                )
            seen = set()
            for _ in range(8):
                text = requests.get(base + "/metrics", timeout=10).text
                wanted = 'lapor_webhooks_total{channel="sms"'
                line = next((row for row in text.splitlines() if row.startswith(wanted)), "")
                seen.add(line)
            answered = requests.get(base + "/healthz", headers={"X-Request-ID": "probe-1"}, timeout=10)
            assert answered.headers["X-Request-ID"] == "probe-1"
            time.sleep(1)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:  # a loaded machine: do not leave it behind
                proc.kill()
                proc.wait(timeout=10)
    assert seen == {'lapor_webhooks_total{channel="sms",result="bad_signature"} 12.0'}, seen
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line, gunicorn's included, is JSON
    access = [r for r in records if r.get("access")]
    assert any(r.get("request_id") == "probe-1" and r["path"] == "/healthz" for r in access), access
    assert any(r["logger"] == "gunicorn.error" for r in records)
    assert "6281234567001" not in log.read_text()
