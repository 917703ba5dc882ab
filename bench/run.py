"""`python -m bench.run`: the gateway as deployed, its two floors, and the numbers side by side.

One command, one machine, everything on 127.0.0.1 and stopped at the end:

1. a real redis-server, SQLite in a temp dir (or a fresh database on the PostgreSQL server of
   ``DATABASE_URL``), migrations, agencies; the four loopback providers in a child process,
   answering after ``--provider-delay`` seconds;
2. floor: a bare Flask app on gunicorn (same flags as `lapor-gateway web`) whose webhook
   only enqueues the raw body; ``/null`` on it measures the driver itself; then the backlog
   of no-op jobs is drained by ``--workers`` rq SimpleWorkers, which gives the worker floor;
3. gateway: `lapor-gateway web` (gunicorn) and ``--workers`` `lapor-gateway worker`
   processes, driven the same way (highest ack rate with the workers stopped, then the drain
   of that backlog: end-to-end inbound messages per second), then whole conversations at
   each ``--rate`` for ``--duration`` seconds with the workers running;
4. JSON, a PNG chart and a row in docs/performance.md.

``--soak`` instead runs conversations at ``--soak-rate`` for ``--soak-duration`` seconds (10
minutes by default) and reports whether web and worker memory stay flat.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench import report, stats
from bench.driver import Driver, PhaseStats
from bench.floors import FLOOR_QUEUE
from bench.procs import MemorySampler, spawn, stop, wait_http
from bench.providers import ProviderProcess, channel_env
from gateway.cli import DEFAULT_SEND_THREADS

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = 4000  # latencies kept per phase for the chart


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=30.0, help="seconds of each fixed-rate phase")
    p.add_argument("--max-duration", type=float, default=10.0, help="seconds of each highest-rate phase")
    p.add_argument("--max-messages", type=int, default=800, help="cap of messages in a highest-rate phase")
    p.add_argument("--rate", default="50,100", help="fixed rates in messages/s, comma-separated")
    p.add_argument("--workers", type=int, default=2, help="rq worker processes (gateway and floor)")
    p.add_argument(
        "--send-threads", type=int, default=None, help="send threads per worker (default: its own)"
    )
    p.add_argument("--web-workers", type=int, default=2, help="gunicorn worker processes")
    p.add_argument("--concurrency", type=int, default=32, help="senders in the highest-rate phases")
    p.add_argument("--provider-delay", type=float, default=0.2, help="seconds the providers take to answer")
    p.add_argument("--drain-timeout", type=float, default=75.0, help="seconds to wait for a backlog")
    p.add_argument("--soak", action="store_true", help="the long memory run instead of the default phases")
    p.add_argument("--soak-duration", type=float, default=600.0)
    p.add_argument("--soak-rate", type=float, default=50.0)
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "performance", help="JSON and PNG go here")
    p.add_argument("--markdown", type=Path, default=ROOT / "docs" / "performance.md")
    p.add_argument("--no-docs", action="store_true", help="do not add a row to docs/performance.md")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, SQLite) for inspection")
    return p.parse_args(argv)


# --------------------------------------------------------------------------- environment
class Stack:
    """Redis, database and providers for one run, and the environment the children get."""

    def __init__(self, args: argparse.Namespace) -> None:
        from gateway.devtools.embedded_redis import EmbeddedRedis

        self.args = args
        self.dir = Path(tempfile.mkdtemp(prefix="lapor-bench-"))
        self.redis = EmbeddedRedis(None, persist=False).start()
        self.pg_url: str | None = None
        given = os.environ.get("DATABASE_URL")
        if given:
            self.pg_url = _fresh_postgres(given)
            self.database_url = self.pg_url
        else:
            self.database_url = f"sqlite:///{self.dir / 'bench.db'}"
        self.providers = ProviderProcess(args.provider_delay).start()
        self.web_port = _free_port()
        self.floor_port = _free_port()
        bindir = str(Path(sys.executable).parent)
        self.env = {
            **os.environ,
            "PATH": bindir + os.pathsep + os.environ.get("PATH", ""),
            "LAPOR_DATA_DIR": str(self.dir / "data"),
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis.url,
            "SECRET_KEY": uuid.uuid4().hex,
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{self.web_port}",
            "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
            **channel_env(self.providers.urls),
        }
        self._prepare_database()

    def _prepare_database(self) -> None:
        from config.settings import load_settings
        from gateway.devtools.demo import sync_agencies
        from gateway.runtime import Runtime
        from gateway.store.db import Database
        from gateway.store.migrate import upgrade

        db = Database(self.database_url)
        upgrade(db)
        db.dispose()
        runtime = Runtime(load_settings(self.env))
        sync_agencies(runtime)
        runtime.close()

    def adapters(self) -> dict[str, Any]:
        from adapters import adapter_class

        built = {}
        for channel in ("sms", "twilio", "whatsapp", "telegram"):
            adapter = adapter_class(channel).from_env(self.env)
            if adapter is None:
                raise RuntimeError(f"channel {channel} is not configured by the bench")
            built[channel] = adapter
        return built

    def close(self) -> None:
        self.providers.stop()
        self.redis.stop()
        if self.pg_url:
            _drop_postgres(self.pg_url)
        if self.args.keep:
            print(f"kept {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


def _free_port() -> int:
    from gateway.devtools.embedded_redis import free_port

    return free_port()


def _fresh_postgres(url: str) -> str:
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = f"lapor_bench_{uuid.uuid4().hex[:8]}"
    admin = parsed.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return parsed.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)


def _drop_postgres(url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')


def gunicorn_args(port: int, web_workers: int, target: str) -> list[str]:
    """The same flags `lapor-gateway web` passes, bound to 127.0.0.1."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(web_workers),
        "--threads",
        "4",
        "--access-logfile",
        "-",
        "--timeout",
        "30",
        target,
    ]


# --------------------------------------------------------------------------- database probes
class Probe:
    """Counts the bench reads from the gateway's database between phases (never during)."""

    def __init__(self, url: str) -> None:
        from gateway.store.db import Database

        self.db = Database(url)

    def counts(self) -> dict[str, int]:
        from gateway.store.models import Job, Message

        with self.db.session(write=False) as s:
            return {
                "inbound": int(s.scalar(select(func.count()).where(Message.direction == "in")) or 0),
                "processed": int(
                    s.scalar(
                        select(func.count()).where(
                            Message.direction == "in", Message.processed_at.is_not(None)
                        )
                    )
                    or 0
                ),
                "outbound": int(s.scalar(select(func.count()).where(Message.direction == "out")) or 0),
                "outbound_failed": int(
                    s.scalar(
                        select(func.count()).where(
                            Message.direction == "out", Message.delivery_status == "failed"
                        )
                    )
                    or 0
                ),
                "jobs_failed": int(s.scalar(select(func.count()).where(Job.status == "failed")) or 0),
                # Due or running work only: conversation timeouts wait for hours by design.
                "jobs_open": int(
                    s.scalar(
                        select(func.count()).where(
                            Job.status.in_(("pending", "running")), Job.run_at <= datetime.now(UTC)
                        )
                    )
                    or 0
                ),
            }

    def processed_times(self, since: float) -> list[float]:
        from gateway.store.models import Message

        cutoff = datetime.fromtimestamp(since, UTC)
        with self.db.session(write=False) as s:
            rows = s.scalars(
                select(Message.processed_at).where(Message.direction == "in", Message.processed_at >= cutoff)
            ).all()
        return [(r if r.tzinfo else r.replace(tzinfo=UTC)).timestamp() for r in rows]

    def job_finish_times(self, since: float) -> list[float]:
        """When inbound and send jobs finished: a message is done end to end when its replies are sent."""
        from gateway.store.models import Job

        cutoff = datetime.fromtimestamp(since, UTC)
        with self.db.session(write=False) as s:
            rows = s.scalars(
                select(Job.finished_at).where(
                    Job.kind.in_(("process_inbound", "send_message")),
                    Job.status == "done",
                    Job.finished_at >= cutoff,
                )
            ).all()
        return sorted((r if r.tzinfo else r.replace(tzinfo=UTC)).timestamp() for r in rows)

    def close(self) -> None:
        self.db.dispose()


def _delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in after}


# --------------------------------------------------------------------------- phases
def phase_summary(ps: PhaseStats, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    span = max(1e-9, ps.send_ended - ps.started)
    step = max(1, len(ps.ack_latencies) // SAMPLE)
    rstep = max(1, len(ps.reply_latencies) // SAMPLE)
    out: dict[str, Any] = {
        "sent": ps.sent,
        "acked_ok": ps.acked_ok,
        "statuses": dict(ps.statuses),
        "exceptions": dict(ps.exceptions),
        "overload_skips": ps.overload_skips,
        "errors": ps.errors,
        "send_seconds": round(span, 2),
        "ack_rps": stats.rate(ps.acked_ok, span),
        "ack": stats.latency_summary(ps.ack_latencies),
        "reply": stats.latency_summary(ps.reply_latencies),
        "no_reply": ps.no_reply,
        "first_messages": ps.first_messages,
        "answers": ps.answers,
        "conversations_completed": ps.completed,
        "schedule_lag_max_ms": round(ps.schedule_lag_max * 1000, 1),
        "ack_timeline": stats.per_second(ps.ack_times, ps.started, ps.send_ended),
        "ack_ms_sample": [round(x * 1000, 2) for x in sorted(ps.ack_latencies)[::step]],
        "reply_ms_sample": [round(x * 1000, 1) for x in sorted(ps.reply_latencies)[::rstep]],
    }
    out.update(extra or {})
    return out


def queue_depth(redis_url: str, name: str) -> int:
    from redis import Redis

    return int(Redis.from_url(redis_url).llen(f"rq:queue:{name}"))


def drain_rate(samples: list[tuple[float, int]]) -> float | None:
    """Jobs per second from (time, queue depth) samples taken while workers drain a backlog."""
    moving = [(t, d) for t, d in samples if d > 0]
    if len(moving) < 2:
        return None
    (t0, d0), (t1, d1) = moving[0], moving[-1]
    return stats.rate(d0 - d1, t1 - t0)


WARM_UP_MESSAGES = 400


def warm_up(driver: Driver, args: argparse.Namespace, log: Any, name: str) -> None:
    """The same untimed round of webhooks before each highest-rate phase: first requests pay for
    imports, statement caches and connections, and without it the shorter of two phases pays
    that more heavily per message. Its messages join the backlog that the workers drain."""
    log(f"{name}: warm-up, {WARM_UP_MESSAGES} webhooks (not measured)")
    asyncio.run(
        driver.run_phase(
            f"{name}_warm_up",
            lambda d: d.closed_loop(args.concurrency, 5.0, WARM_UP_MESSAGES),
            expect_replies=False,
        )
    )


def run_floors(args: argparse.Namespace, stack: Stack, adapters: dict[str, Any], log: Any) -> dict[str, Any]:
    env = {**stack.env, "BENCH_FLOOR_APP": "1"}
    floor_web = spawn(
        gunicorn_args(stack.floor_port, args.web_workers, "bench.floors:app"),
        env,
        stack.dir / "floor-web.log",
    )
    base = f"http://127.0.0.1:{stack.floor_port}"
    workers: list[Any] = []
    out: dict[str, Any] = {}
    try:
        wait_http(base + "/null", proc=floor_web)
        driver = Driver(base, adapters, None)
        null_driver = Driver(base, adapters, None, path_override="/null")
        log("floor: driver capacity against /null")
        ps = asyncio.run(
            null_driver.run_phase(
                "driver_null",
                lambda d: d.closed_loop(args.concurrency, min(5.0, args.max_duration), args.max_messages * 4),
                expect_replies=False,
            )
        )
        out["driver_null"] = phase_summary(ps)
        log(f"  driver + gunicorn ceiling: {out['driver_null']['ack_rps']} req/s")
        warm_up(driver, args, log, "floor")
        log("floor: highest ack rate (webhook -> rq)")
        ps = asyncio.run(
            driver.run_phase(
                "floor_ack_max",
                lambda d: d.closed_loop(args.concurrency, args.max_duration, args.max_messages * 4),
                expect_replies=False,
            )
        )
        out["floor_ack_max"] = phase_summary(ps)
        log(
            f"  floor ack: {out['floor_ack_max']['ack_rps']} msg/s, "
            f"p99 {out['floor_ack_max']['ack']['p99_ms']} ms"
        )
        depth0 = queue_depth(stack.redis.url, FLOOR_QUEUE)
        log(f"floor: {args.workers} workers drain {depth0} no-op jobs")
        workers = [
            spawn([sys.executable, "-m", "bench.floors", "worker"], env, stack.dir / f"floor-worker-{i}.log")
            for i in range(args.workers)
        ]
        samples: list[tuple[float, int]] = []
        deadline = time.time() + args.drain_timeout
        while time.time() < deadline:
            depth = queue_depth(stack.redis.url, FLOOR_QUEUE)
            samples.append((time.time(), depth))
            if depth == 0:
                break
            time.sleep(0.1)
        out["noop_jobs_per_s"] = drain_rate(samples)
        out["noop_backlog"] = depth0
        out["noop_left"] = samples[-1][1] if samples else None
        out["noop_timeline"] = [d for _, d in samples[::10]]
        log(f"  no-op jobs: {out['noop_jobs_per_s']} jobs/s")
    finally:
        for w in workers:
            stop(w)
        stop(floor_web)
    return out


def start_workers(args: argparse.Namespace, stack: Stack, tag: str) -> list[Any]:
    return [
        spawn(
            [sys.executable, "-m", "gateway.cli", "worker"]
            + ([] if args.send_threads is None else ["--send-threads", str(args.send_threads)]),
            stack.env,
            stack.dir / f"worker-{tag}-{i}.log",
        )
        for i in range(args.workers)
    ]


def spawn_web(stack: Stack, args: argparse.Namespace) -> Any:
    """The gateway's web process as deployed (`lapor-gateway web`, gunicorn) on the stack's port."""
    command = [sys.executable, "-m", "gateway.cli", "web", "--host", "127.0.0.1"]
    command += ["--port", str(stack.web_port), "--workers", str(args.web_workers)]
    return spawn(command, stack.env, stack.dir / "web.log")


def run_gateway(
    args: argparse.Namespace, stack: Stack, adapters: dict[str, Any], sampler: MemorySampler, log: Any
) -> dict[str, Any]:
    web = spawn_web(stack, args)
    base = f"http://127.0.0.1:{stack.web_port}"
    probe = Probe(stack.database_url)
    workers: list[Any] = []
    out: dict[str, Any] = {"phases": {}}
    try:
        wait_http(base + "/healthz", proc=web)
        sampler.watch("web", [web])
        driver = Driver(base, adapters, stack.providers.replies)

        # Highest ack rate with the workers stopped, as for the floor; then their drain.
        warm_up(driver, args, log, "gateway")
        log("gateway: highest ack rate (workers stopped)")
        before = probe.counts()
        ps = asyncio.run(
            driver.run_phase(
                "gateway_ack_max",
                lambda d: d.closed_loop(args.concurrency, args.max_duration, args.max_messages),
                expect_replies=False,
            )
        )
        summary = phase_summary(ps)
        log(
            f"  gateway ack: {summary['ack_rps']} msg/s, p99 {summary['ack']['p99_ms']} ms, "
            f"errors {ps.errors}"
        )
        backlog = _delta(probe.counts(), before)
        log(f"gateway: {args.workers} workers drain {backlog['inbound']} stored messages")
        drain_start = time.time()
        workers = start_workers(args, stack, "a")
        sampler.watch("workers", workers)
        deadline = drain_start + args.drain_timeout
        while time.time() < deadline:
            time.sleep(1.0)
            now = probe.counts()
            if now["processed"] - before["processed"] >= backlog["inbound"] and now["jobs_open"] == 0:
                break
        done = probe.processed_times(drain_start)
        finished = probe.job_finish_times(drain_start)
        final = probe.counts()
        after = _delta(final, before)
        # From the first job the workers finish to the last reply sent: messages per second.
        window = (finished[-1] - finished[0]) if len(finished) > 1 else 0.0
        drained = after["processed"] >= backlog["inbound"] and final["jobs_open"] == 0
        summary.update(
            stored=backlog["inbound"],
            processed=after["processed"],
            drained=drained,
            db=after,
            e2e_msgs_per_s=stats.rate(after["processed"], window),
            inbound_jobs_per_s=stats.sustained_rate(done),
            jobs_per_s=stats.rate(len(finished), window),
            drain_seconds=round(time.time() - drain_start, 1),
            done_timeline=stats.per_second(done, drain_start, max(done, default=drain_start) + 1),
        )
        out["phases"]["gateway_ack_max"] = summary
        log(f"  end to end: {summary['e2e_msgs_per_s']} inbound msg/s ({after['processed']} processed)")

        for rate in [float(r) for r in str(args.rate).split(",") if r.strip()]:
            name = f"fixed_{rate:g}"
            log(f"gateway: conversations at {rate:g} msg/s for {args.duration:g}s")
            before = probe.counts()
            ps = asyncio.run(
                driver.run_phase(
                    name,
                    lambda d, rate=rate: d.fixed_rate(rate, args.duration),
                    expect_replies=True,
                    reply_timeout=30.0,
                )
            )
            time.sleep(1.0)
            db = _delta(probe.counts(), before)
            done = probe.processed_times(ps.started)
            summary = phase_summary(
                ps,
                {
                    "rate": rate,
                    "db": db,
                    "lost": max(0, ps.acked_ok - db["inbound"]),
                    "unprocessed": max(0, db["inbound"] - db["processed"]),
                    "done_timeline": stats.per_second(done, ps.started, ps.ended),
                },
            )
            out["phases"][name] = summary
            log(
                f"  ack p50 {summary['ack']['p50_ms']} p99 {summary['ack']['p99_ms']} ms; reply p50 "
                f"{summary['reply']['p50_ms']} p95 {summary['reply']['p95_ms']} ms; errors {ps.errors}, "
                f"no reply {ps.no_reply}, lost {summary['lost']}, conversations done {ps.completed}"
            )
    finally:
        sampler.unwatch("web", "workers")
        for w in workers:
            stop(w)
        stop(web)
        probe.close()
    return out


def run_soak(
    args: argparse.Namespace, stack: Stack, adapters: dict[str, Any], sampler: MemorySampler, log: Any
) -> dict[str, Any]:
    saved = args.rate, args.duration
    args.rate, args.duration = str(args.soak_rate), args.soak_duration
    try:
        log(f"soak: conversations at {args.soak_rate:g} msg/s for {args.soak_duration:g}s")
        web = spawn_web(stack, args)
        base = f"http://127.0.0.1:{stack.web_port}"
        workers = start_workers(args, stack, "soak")
        probe = Probe(stack.database_url)
        try:
            wait_http(base + "/healthz", proc=web)
            sampler.watch("web", [web])
            sampler.watch("workers", workers)
            driver = Driver(base, adapters, stack.providers.replies)
            before = probe.counts()
            ps = asyncio.run(
                driver.run_phase(
                    "soak", lambda d: d.fixed_rate(args.soak_rate, args.soak_duration), expect_replies=True
                )
            )
            db = _delta(probe.counts(), before)
            return {
                "phases": {
                    "soak": phase_summary(
                        ps, {"rate": args.soak_rate, "db": db, "lost": max(0, ps.acked_ok - db["inbound"])}
                    )
                }
            }
        finally:
            sampler.unwatch("web", "workers")
            for w in workers:
                stop(w)
            stop(web)
            probe.close()
    finally:
        args.rate, args.duration = saved


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t0 = time.time()

    def log(message: str) -> None:
        print(f"[{time.time() - t0:6.1f}s] {message}", flush=True)

    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    log("starting redis, database, providers")
    stack = Stack(args)
    sampler = MemorySampler(interval=1.0 if not args.soak else 5.0).start()
    try:
        adapters = stack.adapters()
        results["settings"] = {
            "database": "postgresql" if stack.pg_url else "sqlite",
            "web_workers": args.web_workers,
            "web_threads": 4,
            "workers": args.workers,
            "send_threads": args.send_threads or DEFAULT_SEND_THREADS,
            "provider_delay_ms": round(args.provider_delay * 1000),
            "rates": args.rate,
            "duration_s": args.duration,
            "max_duration_s": args.max_duration,
            "concurrency": args.concurrency,
            "soak": args.soak,
            "telegram_stand_in": stack.providers.urls.get("telegram_impl"),
        }
        if args.soak:
            results.update(run_soak(args, stack, adapters, sampler, log))
        else:
            results["floors"] = run_floors(args, stack, adapters, log)
            results.update(run_gateway(args, stack, adapters, sampler, log))
    finally:
        sampler.stop()
        stack.close()
    finalize(results, sampler, args)
    log("done")
    print_summary(results)
    return 0


def finalize(results: dict[str, Any], sampler: MemorySampler, args: argparse.Namespace) -> None:
    phases: dict[str, Any] = results.setdefault("phases", {})
    floors = results.get("floors", {})
    if floors:
        phases = {
            "driver_null": floors.pop("driver_null"),
            "floor_ack_max": floors.pop("floor_ack_max"),
            **phases,
        }
        results["phases"] = phases
        floors["ack_max_rps"] = phases["floor_ack_max"]["ack_rps"]
        floors["driver_null_rps"] = phases["driver_null"]["ack_rps"]
    gw = phases.get("gateway_ack_max", {})
    results["gateway"] = {"ack_max_rps": gw.get("ack_rps"), "e2e_msgs_per_s": gw.get("e2e_msgs_per_s")}
    results["ratios"] = {
        "ack_ratio": stats.ratio(gw.get("ack_rps"), floors.get("ack_max_rps")),
        "e2e_ratio": stats.ratio(gw.get("e2e_msgs_per_s"), floors.get("noop_jobs_per_s")),
        "driver_headroom": stats.ratio(floors.get("driver_null_rps"), floors.get("ack_max_rps")),
    }
    results["memory"] = {name: stats.memory_trend(s) for name, s in sampler.samples.items()}
    results["memory_samples"] = sampler.samples
    fixed = {k: v for k, v in phases.items() if k.startswith(("fixed_", "soak"))}
    errors = sum(v["errors"] + v.get("no_reply", 0) + v.get("lost", 0) for v in fixed.values())
    results["errors_total"] = errors if fixed else None
    slopes = [m["slope_mb_per_min"] for m in results["memory"].values() if m["slope_mb_per_min"] is not None]
    measured = {
        **results["ratios"],
        "ack_p99_ms_at_100": phases.get("fixed_100", {}).get("ack", {}).get("p99_ms"),
        "reply_p95_ms_at_50": _reply_p95(phases.get("fixed_50", {})),
        "errors": results["errors_total"],
        # Flatness is only judged on a long run: a 3-minute run still shows warm-up growth.
        "memory_slope_mb_per_min": max(slopes) if (slopes and args.soak) else None,
    }
    results["goals"] = stats.evaluate_goals(measured)
    stamp = results["started_at"][:19].replace(":", "").replace("-", "")
    kind = "soak" if args.soak else "run"
    json_path = args.out / f"{kind}-{stamp}.json"
    report.write_json(json_path, results)
    # One latest result and one chart per kind and database: a PostgreSQL run no longer replaces
    # the SQLite (default) chart that docs/performance.md shows first.
    suffix = "" if results["settings"]["database"] == "sqlite" else f"-{results['settings']['database']}"
    report.write_json(args.out / f"latest-{kind}{suffix}.json", results)
    chart = args.out.parent / (("performance" if not args.soak else "performance-soak") + f"{suffix}.png")
    report.write_chart(chart, results)
    if not args.no_docs:
        report.append_row(args.markdown, report.markdown_row(results))
    print(f"results: {json_path}\nchart:   {chart}")


def _reply_p95(phase: dict[str, Any]) -> float | None:
    """p95 of the replies; when none came back within the wait, the wait itself (a lower bound)."""
    if not phase:
        return None
    value = phase.get("reply", {}).get("p95_ms")
    if value is None and phase.get("sent"):
        return 30000.0
    return value


def print_summary(results: dict[str, Any]) -> None:
    print("\n goal                                                         target      measured   met")
    for goal in results["goals"]:
        met = {True: "yes", False: "NO", None: "-"}[goal["met"]]
        print(f" {goal['description'][:60]:<60} {goal['target']:<11} {goal['value']!s:<10} {met}")


if __name__ == "__main__":
    sys.exit(main())
