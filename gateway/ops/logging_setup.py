"""Structured JSON logs with phone numbers and tokens masked.

Phone numbers never reach a log: every record's message and extra fields go
through `mask`, which hides anything that looks like a phone number, an
address with a scheme, a bearer token, or the value of a query parameter that
carries a citizen's number or words. The web process's access log goes through
the same `mask` and the same formatter (gateway.ops.access_log), so one rule covers both.

Every line also carries the request id of the webhook (or page) it belongs to: taken from a
sane incoming ``X-Request-ID`` or made here, answered in the same header, written into the
payload of the jobs the request records (`current_request_id`, read by the outbox) and set
again while those jobs, and the jobs they record, run (`request_context`). One id finds the
ack, the conversation turn and the reply's send in the logs.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

REQUEST_ID_HEADER = "X-Request-ID"
#: An incoming id is kept when it is this sane (a proxy's or load balancer's id); else one is made.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}")
_REQUEST_ID: ContextVar[str | None] = ContextVar("lapor_request_id", default=None)


def current_request_id() -> str | None:
    """The request id of the work this thread is doing (a request, or a job it recorded)."""
    return _REQUEST_ID.get()


def sane_request_id(given: str | None) -> str:
    """``given`` when it is a plausible id (no spaces, quotes or newlines, 64 characters at
    most, and nothing a phone number could hide in), else a new random one."""
    if given and _SANE_REQUEST_ID.fullmatch(given) and mask(given) == given:
        return given
    return uuid.uuid4().hex


@contextmanager
def request_context(request_id: str | None) -> Iterator[None]:
    """Log lines (and jobs recorded) inside carry ``request_id``; None leaves things as they are."""
    if not request_id:
        yield
        return
    token = _REQUEST_ID.set(str(request_id))
    try:
        yield
    finally:
        _REQUEST_ID.reset(token)


def install_request_ids(app: Any) -> None:
    """Give every request of ``app`` an id (kept from a sane ``X-Request-ID``), answered in the
    same header and carried by its log lines and jobs."""
    from flask import g, request

    @app.before_request
    def _take_request_id() -> None:
        request_id = sane_request_id(request.headers.get(REQUEST_ID_HEADER))
        g.lapor_request_id = request_id
        g.lapor_request_token = _REQUEST_ID.set(request_id)

    @app.after_request
    def _answer_request_id(response: Any) -> Any:
        request_id = g.get("lapor_request_id")
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
        return response

    @app.teardown_request
    def _forget_request_id(_exc: BaseException | None) -> None:
        token = g.pop("lapor_request_token", None)
        if token is not None:
            try:
                _REQUEST_ID.reset(token)
            except ValueError:  # set in another context (a streamed response): leave it
                _REQUEST_ID.set(None)


# A plus may arrive percent-encoded (%2B) when the number sits in a query string.
_PHONE = r"(?<![\w])(?:\+|00|%2[Bb])?\d[\d\s\-().]{7,}\d"
# Dotted quads are client addresses, not phone numbers: matched first and left as they are.
_IPV4 = r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])"
_PHONE_OR_IP = re.compile(rf"(?P<ip>{_IPV4})|(?P<phone>{_PHONE})")
_ADDRESS = re.compile(r"\b(tel|whatsapp|telegram|sms):[^\s,;\"']+")
_TOKEN = re.compile(r"(?i)(bearer\s+|token[=:]\s*|api_key[=:]\s*|sig[=:]\s*)[A-Za-z0-9._\-]+")
#: Query parameters whose value is a citizen's number, address or words (Vonage's GET webhooks,
#: the API's ``contact`` filter, searches), or the WhatsApp verification secret.
PRIVATE_PARAMETERS = (
    "msisdn",
    "to",
    "from",
    "text",
    "keyword",
    "contact",
    "phone",
    "q",
    "hub.verify_token",
    "hub.challenge",
)
_PARAMETER = re.compile(
    r"(?i)(?<![\w.\-])((?:" + "|".join(re.escape(p) for p in PRIVATE_PARAMETERS) + r")=)[^&\s\"']+"
)

_STANDARD = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


def mask(text: str) -> str:
    """Hide phone numbers, addresses, tokens and private query parameters in ``text``; keep IP addresses."""
    text = _PARAMETER.sub(lambda m: f"{m.group(1)}***", text)
    text = _ADDRESS.sub(lambda m: f"{m.group(1)}:***", text)
    text = _TOKEN.sub(lambda m: f"{m.group(1)}***", text)
    return _PHONE_OR_IP.sub(_hide_phone, text)


def _hide_phone(match: re.Match[str]) -> str:
    if match.group("ip") is not None:
        return match.group(0)
    return match.group(0)[:3] + "***"


class JsonFormatter(logging.Formatter):
    """One JSON object per line; extra fields kept, all of it masked."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": mask(record.getMessage()),
        }
        request_id = _REQUEST_ID.get()
        if request_id:
            payload["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                payload[key] = mask(str(value)) if isinstance(value, str) else value
        if record.exc_info:
            payload["exception"] = mask(self.formatException(record.exc_info))
        return json.dumps(payload, default=lambda v: mask(str(v)), ensure_ascii=False)


_CONFIGURED = False


def log_level(default: int = logging.INFO) -> int:
    """``LAPOR_LOG_LEVEL`` (a name such as DEBUG or WARNING, or a number), else ``default``.

    DEBUG adds a line per accepted webhook; WARNING keeps only what needs attention.
    """
    given = (os.environ.get("LAPOR_LOG_LEVEL") or "").strip().upper()
    if not given:
        return default
    if given.isdigit():
        return int(given)
    level = logging.getLevelName(given)
    return level if isinstance(level, int) else default


def configure_logging(level: int | None = None) -> None:
    """Install the JSON formatter on the root logger once per process, at ``level`` or
    ``LAPOR_LOG_LEVEL`` (INFO by default)."""
    global _CONFIGURED
    if _CONFIGURED:
        return
    _CONFIGURED = True
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level if level is not None else log_level())
    for noisy in ("werkzeug", "urllib3", "httpx", "rq.worker", "telegram", "twilio.http_client"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
