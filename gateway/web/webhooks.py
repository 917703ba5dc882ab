"""One generic webhook wrapper for every channel: look up, verify, parse, store, answer.

Adapters only verify and parse; this module owns errors, storage and the answer,
so every channel behaves the same way:

* channel off (no credentials)  -> 404
* wrong or missing signature    -> 403, nothing stored
* malformed body                -> 400 with the reason (JSON nested deeper than
                                   MAX_JSON_DEPTH included: every adapter reads JSON with
                                   adapters.common.load_json, also while verifying)
* body over LAPOR_MAX_BODY_BYTES -> 413 (Flask's MAX_CONTENT_LENGTH)
* database unreachable          -> 503, so the provider retries
* otherwise the messages are stored (once per provider id), their jobs recorded
  in the same transaction, and the adapter's answer returned. Nothing slow runs here.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from adapters.base import (
    ChannelAdapter,
    ChannelDisabled,
    PayloadError,
    SignatureError,
    WebhookRequest,
    WebhookResponse,
)
from gateway.messages.ingest import store_parse_result
from gateway.ops.metrics import record_webhook
from gateway.runtime import Runtime

log = logging.getLogger(__name__)

webhooks_bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


def _runtime() -> Runtime:
    return current_app.extensions["lapor"]


def _error(status: int, code: str, message: str) -> tuple[Response, int]:
    return jsonify(error={"code": code, "message": message}), status


_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def build_webhook_request(public_base_url: str) -> WebhookRequest:
    """The framework-free request an adapter sees, with the URL the provider signed."""
    req = request._get_current_object()  # type: ignore[attr-defined]  # the proxy resolved once
    path = req.path
    query = req.query_string.decode("latin-1")
    url = public_base_url + path + (f"?{query}" if query else "")
    form: tuple[tuple[str, str], ...] = ()
    if req.mimetype in _FORM_TYPES:
        form = tuple((k, v) for k, values in req.form.lists() for v in values)
    return WebhookRequest(
        method=req.method,
        url=url,
        path=path,
        headers={k.lower(): v for k, v in req.headers.items()},
        body=req.get_data(cache=True),
        form=form,
        query=tuple((k, v) for k, values in req.args.lists() for v in values) if query else (),
    )


def _to_response(answer: WebhookResponse) -> Response:
    return Response(answer.body, status=answer.status, content_type=answer.content_type)


def _adapter_or_404(channel: str) -> ChannelAdapter | None:
    return _runtime().adapter(channel)


def handle_webhook(channel: str) -> Any:
    response = _handle_webhook(channel)
    status = response[1] if isinstance(response, tuple) else response.status_code
    body = response[0] if isinstance(response, tuple) else None
    result = "accepted" if status < 400 else str(status)
    if status < 400 and g.get("lapor_webhook_duplicate"):
        result = "duplicate"  # a provider's retry of what was stored before: acked, nothing new
    if body is not None:
        try:
            result = body.get_json()["error"]["code"]
        except Exception:
            result = str(status)
    record_webhook(channel, result)
    return response


def _handle_webhook(channel: str) -> Any:
    runtime = _runtime()
    adapter = _adapter_or_404(channel)
    if adapter is None:
        return _error(404, "channel_off", f"channel {channel!r} is not configured")
    webhook = build_webhook_request(runtime.settings.public_base_url)
    try:
        adapter.verify(webhook)
    except SignatureError as exc:
        log.info("webhook signature refused", extra={"channel": channel, "reason": str(exc)})
        return _error(403, "bad_signature", str(exc) or "signature does not match")
    except PayloadError as exc:  # too malformed to even check the signature
        return _error(400, "malformed", str(exc))
    try:
        parsed = adapter.parse(webhook)
    except PayloadError as exc:
        return _error(400, "malformed", str(exc))
    except ChannelDisabled as exc:
        return _error(404, "channel_off", str(exc))
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        # An adapter bug on a shape it did not foresee: a 500 would make the provider retry
        # the same body forever, so it is refused like any malformed body, and logged.
        log.exception("adapter could not parse a verified body", extra={"channel": channel})
        return _error(400, "malformed", f"unreadable payload ({type(exc).__name__})")
    try:
        stored = store_parse_result(runtime, channel, parsed)
    except (OperationalError, SQLAlchemyError) as exc:
        log.error(
            "storage unavailable, asking provider to retry",
            extra={"channel": channel, "error": type(exc).__name__},
        )
        return _error(503, "storage_unavailable", "storage is unavailable, please retry")
    g.lapor_webhook_duplicate = bool(stored.duplicates) and not stored.new_messages
    # DEBUG: the access log already has a line per webhook, and the counters are in
    # /metrics (lapor_webhooks_total); a JSON line more per message cost the ack real CPU.
    if log.isEnabledFor(logging.DEBUG):
        log.debug(
            "webhook accepted",
            extra={
                "channel": channel,
                "messages": stored.new_messages,
                "duplicates": stored.duplicates,
                "statuses": len(parsed.statuses),
                "ignored": len(parsed.ignored),
            },
        )
    return _to_response(parsed.response)


@webhooks_bp.post("/twilio")
@webhooks_bp.post("/twilio/status")
def twilio() -> Any:
    return handle_webhook("twilio")


@webhooks_bp.post("/whatsapp")
def whatsapp() -> Any:
    return handle_webhook("whatsapp")


@webhooks_bp.get("/whatsapp")
def whatsapp_handshake() -> Any:
    adapter = _adapter_or_404("whatsapp")
    if adapter is None:
        return _error(404, "channel_off", "channel 'whatsapp' is not configured")
    try:
        return _to_response(adapter.handshake(build_webhook_request(_runtime().settings.public_base_url)))
    except SignatureError as exc:
        return _error(403, "bad_verify_token", str(exc) or "verify token does not match")


@webhooks_bp.post("/telegram")
def telegram() -> Any:
    return handle_webhook("telegram")


@webhooks_bp.route("/sms", methods=["GET", "POST"])
@webhooks_bp.route("/sms/status", methods=["GET", "POST"])
def sms() -> Any:
    # Vonage can be set to call with GET as well as POST; both are signed the same way.
    return handle_webhook("sms")
