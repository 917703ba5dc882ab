"""The two floors the gateway is measured against, run with the same settings as the gateway.

* Ack floor: a bare Flask app whose webhook only puts the raw body on an rq queue and answers
  200 (no signature check, no parsing, no database). gunicorn serves it exactly like
  `lapor-gateway web` serves the gateway. ``/null`` answers without touching Redis, which
  measures the load driver plus gunicorn, the ceiling of anything measured here.
* Worker floor: `noop`, an rq job that does nothing, run by the same SimpleWorker class
  and JSON serializer the gateway's workers use (`python -m bench.floors worker`).
"""

from __future__ import annotations

import os
import sys

from flask import Flask, Response, request
from redis import Redis
from rq import Queue, SimpleWorker
from rq.serializers import JSONSerializer

FLOOR_QUEUE = "bench-floor"


def noop(body: str) -> None:
    """The cheapest possible job per message."""
    return None


def _queue() -> Queue:
    redis = Redis.from_url(os.environ["REDIS_URL"], socket_timeout=5, socket_connect_timeout=2)
    return Queue(FLOOR_QUEUE, connection=redis, serializer=JSONSerializer)


def create_floor_app() -> Flask:
    app = Flask(__name__)
    queue = _queue()

    @app.post("/webhooks/<path:channel>")
    def webhook(channel: str) -> Response:
        queue.enqueue_call(
            "bench.floors.noop",
            args=(request.get_data().decode("latin-1"),),
            result_ttl=0,
            failure_ttl=3600,
        )
        return Response("ok", status=200, content_type="text/plain")

    @app.route("/null", methods=["GET", "POST"])
    def null() -> Response:
        return Response(status=204)

    return app


def run_floor_worker() -> None:
    """One worker process on the floor queue (no scheduler: the floor has no delayed work)."""
    queue = _queue()
    worker = SimpleWorker([queue], connection=queue.connection, serializer=JSONSerializer)
    worker.work(logging_level="WARNING", with_scheduler=False)


# gunicorn imports `bench.floors:app` in its workers; only then is REDIS_URL required.
app = create_floor_app() if os.environ.get("BENCH_FLOOR_APP") else None

if __name__ == "__main__":  # pragma: no cover - started by bench.run
    if sys.argv[1:] == ["worker"]:
        run_floor_worker()
    else:
        raise SystemExit("usage: python -m bench.floors worker")
