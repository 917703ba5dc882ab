"""`python -m bench.profile`: CPU per message on the ack path and in the worker, in one process.

The full benchmark (`bench.run`) measures the deployed processes from outside; this one tells
where the time goes. It builds the same stack (real Redis, SQLite or a fresh PostgreSQL
database, the loopback providers, here answering at once), acknowledges ``--messages``
signed webhooks of new citizens round robin over the four channels through the Flask test
client, then runs the resulting jobs exactly as a worker does (rq `SimpleWorker` in burst
mode with the gateway's runner) and reports CPU milliseconds per message for each part, the
SQL statements per message, and optionally a cProfile listing (``--cprofile ack|worker``).
``DATABASE_URL=postgresql+psycopg://...`` (or ``--database-url``) profiles on a fresh database
of that PostgreSQL server, dropped after.

Round trips per ack: after the worker's part, ``--count`` more webhooks (not timed) are
acknowledged with every database connection traced below SQLAlchemy, so the statements the ack
runs on the DBAPI cursor (`gateway.store.fast_sql`), the pool's pings and BEGIN/COMMIT all count.
On PostgreSQL that is libpq's own protocol trace (`RoundTrips`); on SQLite, sqlite3's trace
callback (statements only: SQLite has no round trips).

CPU time, not wall time, so the numbers hold on a machine busy with other work.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import shutil
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
    p.add_argument("--count", type=int, default=100, help="webhooks traced for round trips per ack (0: none)")
    p.add_argument("--database-url", help="PostgreSQL to profile on (default: $DATABASE_URL, else SQLite)")
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


class RoundTrips:
    """Statements and round trips on every connection of ``engine`` between `start` and `stop`.

    Below SQLAlchemy, so nothing escapes it: on PostgreSQL each connection's libpq protocol
    trace goes to a file, and a round trip is the client sending and then waiting for the
    server (a run of frontend messages followed by backend ones; a pipeline's queued
    statements share one), a statement one ``Query`` or ``Execute`` message. On SQLite,
    sqlite3's trace callback counts statements. Tracing costs CPU, so it is never on while
    CPU is measured.
    """

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self.dir = ""
        self.active = False
        self.traced: list[tuple[Any, Any]] = []  # (DBAPI connection, trace file)
        self.statements = 0
        self.backends: dict[int, float | None] = {}  # server process -> its CPU seconds at start
        self.server_cpu: float | None = None
        event.listen(engine, "connect", lambda dbapi, _record: self._trace(dbapi))

    def _trace(self, dbapi: Any) -> None:
        if not self.active or any(c is dbapi for c, _ in self.traced):
            return
        if self.postgres:
            from psycopg import pq

            sink = open(f"{self.dir}/{len(self.traced)}.trace", "w")  # noqa: SIM115 - closed in stop()
            dbapi.pgconn.trace(sink.fileno())
            dbapi.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
            self.traced.append((dbapi, sink))
            pid = dbapi.info.backend_pid
            self.backends[pid] = _cpu_seconds(pid)
        else:
            dbapi.set_trace_callback(self._statement)
            self.traced.append((dbapi, None))

    def _statement(self, _sql: str) -> None:
        self.statements += 1

    def start(self) -> None:
        """Trace the pool's idle connections now and every connection opened from here on."""
        import tempfile

        self.dir = tempfile.mkdtemp(prefix="lapor-trace-")
        self.active = True
        for record in list(self.engine.pool._pool.queue):  # QueuePool's idle connections
            if record.dbapi_connection is not None:
                self._trace(record.dbapi_connection)

    def stop(self) -> tuple[int, int | None]:
        """(statements, round trips or None on SQLite) since `start`."""
        self.active = False
        statements, trips = self.statements, 0
        for dbapi, sink in self.traced:
            if sink is None:
                dbapi.set_trace_callback(None)
                continue
            if not dbapi.closed:
                dbapi.pgconn.untrace()
            sink.close()
            sending = False
            with open(sink.name) as lines:
                for line in lines:
                    origin, _, rest = line.partition("\t")
                    kind = rest.split("\t", 2)[1] if rest.count("\t") >= 1 else ""
                    if origin == "F":
                        sending = True
                        statements += kind in ("Query", "Execute")
                    elif origin == "B" and sending:
                        sending = False
                        trips += 1
        spent = [(_cpu_seconds(pid), before) for pid, before in self.backends.items()]
        known = [after - before for after, before in spent if after is not None and before is not None]
        self.server_cpu = sum(known) if known and len(known) == len(spent) else None
        self.traced, self.statements, self.backends = [], 0, {}
        shutil.rmtree(self.dir, ignore_errors=True)
        return statements, trips if self.postgres else None


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a local process (a PostgreSQL backend on this machine), or None."""
    import os

    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
    from gateway.runtime import Runtime
    from gateway.store.models import Job, Message
    from gateway.work.worker import run_worker

    if args.database_url:
        import os

        os.environ["DATABASE_URL"] = args.database_url
    stack_args = argparse.Namespace(provider_delay=0.0, keep=False)
    stack = Stack(stack_args)
    runtime = Runtime(load_settings(stack.env))
    try:
        adapters = stack.adapters()
        app = create_app(runtime=runtime)
        client = app.test_client()
        statements = StatementCounter(runtime.db.engine)
        trips = RoundTrips(runtime.db.engine)

        def webhooks(count: int) -> list[Any]:
            made = []
            for i in range(count):
                variant, channel, prefix = VARIANTS[i % len(VARIANTS)]
                citizen = new_citizen(variant, channel, prefix)
                made.append(adapters[channel].simulate(citizen.sender, citizen.next_text))
            return made

        requests = webhooks(args.messages)

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
        # The ack's prepared statements run on the DBAPI cursor (gateway.store.fast_sql) and
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
        if args.count > 0:
            traced = webhooks(args.count)
            trips.start()
            for req in traced:
                client.open(req.path, method="POST", data=req.body, headers=dict(req.headers))
            counted, round_trips = trips.stop()
            print(
                f"ack, {args.count} more traced below SQLAlchemy (pings, BEGIN/COMMIT, store.fast_sql "
                f"included): statements/message {counted / args.count:.2f}"
                + (f", ROUND TRIPS/message {round_trips / args.count:.2f}" if round_trips is not None else "")
            )
            if trips.server_cpu is not None:
                print(
                    f"  the PostgreSQL backends' CPU: {1000 * trips.server_cpu / args.count:.2f} ms/message"
                )
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

    from gateway.work.kinds import KINDS

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
