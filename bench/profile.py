"""`python -m bench.profile`: CPU per message on the ack path and in the worker, in one process.

The full benchmark (`bench.run`) measures the deployed processes from outside; this one tells
where the time goes. It builds the same stack (real Redis, SQLite or a fresh PostgreSQL
database, the loopback providers, here answering at once), acknowledges ``--messages``
signed webhooks of new citizens round robin over the four channels through the Flask test
client, then runs the resulting jobs exactly as a worker does (rq `SimpleWorker` in burst
mode with the gateway's runner) and reports CPU milliseconds per message for each part, the
SQL statements per message, and optionally a cProfile listing (``--cprofile ack|worker``).

CPU time, not wall time, so the numbers hold on a machine busy with other work.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time
from collections import Counter
from typing import Any

from sqlalchemy import event, func, select


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n\n")[0])
    p.add_argument("--messages", type=int, default=400)
    p.add_argument("--cprofile", choices=("ack", "worker"), help="print the top functions of that part")
    p.add_argument("--pyinstrument", choices=("ack", "worker"), help="print a pyinstrument call tree instead")
    p.add_argument("--top", type=int, default=35)
    p.add_argument("--send-threads", type=int, default=1, help="as `lapor-gateway worker --send-threads`")
    return p.parse_args(argv)


class StatementCounter:
    """Counts SQL statements by their first word, for 'statements per message'."""

    def __init__(self, engine: Any) -> None:
        self.counts: Counter[str] = Counter()
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.counts[statement.split(None, 1)[0].upper()] += 1

    def take(self) -> Counter[str]:
        out, self.counts = self.counts, Counter()
        return out


def _measure(label: str, fn: Any, profile: bool) -> tuple[float, Any]:
    prof = cProfile.Profile() if profile else None
    tree = None
    if ARGS.pyinstrument == label:
        from pyinstrument import Profiler

        tree = Profiler(interval=0.0005)
    cpu = time.process_time()
    if prof is not None:
        prof.enable()
    if tree is not None:
        tree.start()
    result = fn()
    if tree is not None:
        tree.stop()
        print(tree.output_text(unicode=False, color=False, show_all=False))
    if prof is not None:
        prof.disable()
    spent = time.process_time() - cpu
    if prof is not None:
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(ARGS.top)
        print(f"--- cProfile: {label}\n{buf.getvalue()}")
    return spent, result


ARGS: argparse.Namespace


def main(argv: list[str] | None = None) -> int:
    global ARGS
    ARGS = args = parse_args(argv)
    from bench.driver import VARIANTS, new_citizen
    from bench.run import Stack
    from config.settings import load_settings
    from gateway.app import create_app
    from gateway.models import Job, Message
    from gateway.runtime import Runtime
    from gateway.worker import run_worker

    stack_args = argparse.Namespace(provider_delay=0.0, keep=False)
    stack = Stack(stack_args)
    runtime = Runtime(load_settings(stack.env))
    try:
        adapters = stack.adapters()
        app = create_app(runtime=runtime)
        client = app.test_client()
        statements = StatementCounter(runtime.db.engine)
        requests = []
        for i in range(args.messages):
            variant, channel, prefix = VARIANTS[i % len(VARIANTS)]
            citizen = new_citizen(variant, channel, prefix)
            requests.append(adapters[channel].simulate(citizen.sender, citizen.next_text))

        def ack_all() -> list[int]:
            codes = []
            for req in requests:
                resp = client.open(req.path, method="POST", data=req.body, headers=dict(req.headers))
                codes.append(resp.status_code)
            return codes

        warm = min(20, len(requests) // 10)
        for req in requests[:warm]:  # imports, caches, connections
            client.open(req.path, method="POST", data=req.body, headers=dict(req.headers))
        requests = requests[warm:]
        statements.take()
        ack_cpu, codes = _measure("ack", ack_all, args.cprofile == "ack")
        bad = [c for c in codes if c >= 300]
        n = len(requests)
        ack_sql = statements.take()
        depth = runtime.queue.depth() if runtime.queue else 0
        by_kind = _account_cpu_by_kind()

        def work() -> None:
            run_worker(burst=True, scheduler=False, runtime=runtime, send_threads=args.send_threads)

        wall = time.monotonic()
        worker_cpu, _ = _measure("worker", work, args.cprofile == "worker")
        wall = time.monotonic() - wall
        worker_sql = statements.take()
        with runtime.db.session(write=False) as session:
            processed = session.scalar(
                select(func.count(Message.id)).where(
                    Message.direction == "in", Message.processed_at.isnot(None)
                )
            )
            sent = session.scalar(
                select(func.count(Message.id)).where(
                    Message.direction == "out", Message.delivery_status == "sent"
                )
            )
            jobs = dict(session.execute(select(Job.kind, func.count(Job.id)).group_by(Job.kind)).all())
            outcomes = session.execute(
                select(Job.kind, Job.status, func.count(Job.id), func.max(Job.last_error)).group_by(
                    Job.kind, Job.status
                )
            ).all()
            deliveries = session.execute(
                select(Message.channel, Message.delivery_status, func.count(Message.id))
                .where(Message.direction == "out")
                .group_by(Message.channel, Message.delivery_status)
            ).all()
        print("jobs by kind and status:", [tuple(o) for o in outcomes])
        print("replies by status:", [tuple(d) for d in deliveries])
        print(
            f"database: {stack.database_url.split(':', 1)[0]}; {n} new citizens, 5 variants of the 4 channels"
        )
        print(f"ack: {1000 * ack_cpu / n:.2f} ms CPU/message; non-2xx {len(bad)}; rq depth after {depth}")
        # The ack's prepared statements run on the DBAPI cursor (gateway.fast_sql) and
        # pass no SQLAlchemy event: only the others are counted here.
        print(f"  SQL/message via SQLAlchemy (the prepared ones not counted): {_per(ack_sql, n)}")
        print(
            f"worker: {1000 * worker_cpu / n:.2f} ms CPU per inbound message "
            f"({processed} processed, {sent} replies sent, jobs {jobs}); wall {wall:.1f} s"
        )
        print(f"  SQL/message: {_per(worker_sql, n)}")
        inside = sum(by_kind.values())
        parts = ", ".join(
            f"{k} {1000 * v / n:.2f}" for k, v in sorted(by_kind.items(), key=lambda kv: -kv[1])
        )
        print(f"  handler steps (ms CPU/message): {parts}")
        print(f"  rest (rq, claims of batches, heartbeats): {1000 * (worker_cpu - inside) / n:.2f}")
    finally:
        runtime.close()
        stack.close()
    return 0


def _account_cpu_by_kind() -> dict[str, float]:
    """Thread CPU seconds spent per job kind and handler step, whatever thread runs it (the steps
    are wrapped; measurement only, nothing they do changes)."""
    import threading

    spent: dict[str, float] = {}
    lock = threading.Lock()

    def timed_by(fn: Any, key_of: Any) -> Any:
        def timed(*a: Any, **kw: Any) -> Any:
            start = time.thread_time()
            try:
                return fn(*a, **kw)
            finally:
                with lock:
                    key = key_of(a)
                    spent[key] = spent.get(key, 0.0) + time.thread_time() - start

        return timed

    from gateway.jobs.kinds import KINDS

    def wrap_step(kind: str, handler: Any, step: str) -> None:
        setattr(handler, step, timed_by(getattr(handler, step), lambda _a: f"{kind}.{step}"))

    # The listed handler objects are the ones every `JobRunner` runs: their steps are timed.
    for kind, handler in KINDS:
        for step in ("read", "begin", "start", "act", "end"):
            wrap_step(kind, handler, step)
    return spent


def _per(counts: Counter[str], n: int) -> str:
    total = sum(counts.values())
    parts = ", ".join(f"{k} {v / n:.1f}" for k, v in counts.most_common())
    return f"{total / n:.1f} ({parts})"


if __name__ == "__main__":
    raise SystemExit(main())
