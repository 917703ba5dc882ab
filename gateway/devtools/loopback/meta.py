"""A stand-in for Meta's Graph API (WhatsApp Cloud API), for tests and `lapor-gateway run` demos.

It answers what the adapter calls, the way Graph does: ``POST /<version>/<phone
number id>/messages`` with Graph's success shape or its error JSON, media lookups
``GET /<version>/<media id>`` and the download they point to. It checks the Bearer
token (code 190 otherwise) and the limits Meta enforces on interactive messages,
so a malformed button list fails here as it would in production.

Tests steer it: ``close_window(wa_id)`` makes free text to that contact fail with
131047 while templates pass; ``mark_undeliverable(wa_id)`` answers 131026;
``fail_next(Reply(...))`` from the base class injects anything else.

Given ``webhook_url`` and ``app_secret`` it also posts ``statuses`` notifications for
every accepted message to the gateway's webhook, shaped as Meta documents them and
signed with ``X-Hub-Signature-256``: ``sent`` after ``receipt_delay`` seconds,
``delivered`` ``receipt_delay`` later, ``read`` ``read_delay`` after that, from a
background thread.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import struct
import threading
import time
import uuid
import zlib
from typing import Any

from gateway.devtools.loopback.server import Callback, LoopbackProvider, RecordedRequest, Reply


def _placeholder_png() -> bytes:
    """A valid 1x1 white PNG: what an unknown media id downloads as, so demos can show "a photo"."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\xff\xff")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


PLACEHOLDER_PNG = _placeholder_png()

_MESSAGES = re.compile(r"^(?:/v\d+(?:\.\d+)?)?/(?P<phone_number_id>[^/]+)/messages$")
_MEDIA_INFO = re.compile(r"^(?:/v\d+(?:\.\d+)?)?/(?P<media_id>[^/]+)$")
_MEDIA_DOWNLOAD = re.compile(r"^/whatsapp_business/attachments/(?P<media_id>[^/]+)$")

_TYPES = {"text", "image", "audio", "video", "document", "sticker", "location", "contacts"}
_TYPES |= {"interactive", "template", "reaction"}


def graph_error(
    code: int,
    message: str,
    *,
    status: int = 400,
    error_type: str = "OAuthException",
    subcode: int | None = None,
    details: str | None = None,
) -> Reply:
    """A Graph API error answer in Meta's shape."""
    error: dict[str, Any] = {
        "message": message,
        "type": error_type,
        "code": code,
        "fbtrace_id": base64.b64encode(os.urandom(12)).decode("ascii"),
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return Reply(status, {"error": error})


class MetaStandIn(LoopbackProvider):
    """Graph API for one business phone number."""

    def __init__(
        self,
        access_token: str,
        phone_number_id: str,
        *,
        serve_any_media: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        webhook_url: str | None = None,
        app_secret: str | None = None,
        receipt_delay: float = 0.0,
        read_delay: float = 0.0,
        business_account_id: str = "102290129340398",
        display_phone_number: str = "6281100001708",
    ) -> None:
        if bool(webhook_url) != bool(app_secret):
            raise ValueError("status webhooks need both webhook_url and app_secret")
        super().__init__(host=host, port=port)
        self.access_token = access_token
        self.phone_number_id = phone_number_id
        self.serve_any_media = serve_any_media
        self.webhook_url = webhook_url
        self.app_secret = app_secret
        self.receipt_delay = receipt_delay
        self.read_delay = read_delay
        self.business_account_id = business_account_id
        self.display_phone_number = display_phone_number
        self._state = threading.Lock()
        self._closed_windows: set[str] = set()
        self._undeliverable: set[str] = set()
        self._media: dict[str, tuple[bytes, str]] = {}
        self._counter = 0

    @property
    def api_base_url(self) -> str:
        """What WHATSAPP_API_BASE_URL should be set to."""
        return f"{self.base_url}/v21.0"

    # -- test controls ---------------------------------------------------------------
    def close_window(self, wa_id: str) -> None:
        """Answer 131047 to free-form messages for this contact (digits or +E.164); templates pass."""
        with self._state:
            self._closed_windows.add(wa_id.lstrip("+"))

    def mark_undeliverable(self, wa_id: str) -> None:
        """Answer 131026 for this contact (not on WhatsApp, or an outdated client)."""
        with self._state:
            self._undeliverable.add(wa_id.lstrip("+"))

    def reset(self) -> None:
        """Forget requests, queued failures, closed windows and media (between tests)."""
        self.clear()
        with self._state:
            self._closed_windows.clear()
            self._undeliverable.clear()
            self._media.clear()
        self.serve_any_media = True

    def add_media(self, media_id: str, content: bytes, mime_type: str = "image/jpeg") -> None:
        with self._state:
            self._media[media_id] = (content, mime_type)

    def sent_messages(self) -> list[dict[str, Any]]:
        """Bodies of the send requests received, in order (whatever was answered)."""
        return [r.json() for r in list(self.requests) if r.method == "POST" and r.path.endswith("/messages")]

    # -- Graph API ---------------------------------------------------------------------
    def handle(self, request: RecordedRequest) -> Reply:
        if request.headers.get("authorization", "") != f"Bearer {self.access_token}":
            return graph_error(
                190,
                "Invalid OAuth access token - Cannot parse access token",
                status=401,
            )
        download = _MEDIA_DOWNLOAD.match(request.path)
        if request.method == "GET" and download:
            found = self._find_media(download.group("media_id"))
            if found is None:
                return Reply(404, "Not Found")
            content, mime_type = found
            return Reply(200, content, headers={"Content-Type": mime_type})
        match = _MESSAGES.match(request.path)
        if request.method == "POST" and match:
            if match.group("phone_number_id") != self.phone_number_id:
                return graph_error(
                    100,
                    f"Unsupported post request. Object with ID '{match.group('phone_number_id')}'"
                    " does not exist, cannot be loaded due to missing permissions,"
                    " or does not support this operation.",
                    error_type="GraphMethodException",
                    subcode=33,
                )
            return self._send(request)
        info = _MEDIA_INFO.match(request.path)
        if request.method == "GET" and info:
            media_id = info.group("media_id")
            found = self._find_media(media_id)
            if found is None:
                return graph_error(
                    100,
                    f"Unsupported get request. Object with ID '{media_id}' does not exist.",
                    error_type="GraphMethodException",
                    subcode=33,
                )
            content, mime_type = found
            return Reply(
                200,
                {
                    "messaging_product": "whatsapp",
                    "url": f"{self.base_url}/whatsapp_business/attachments/{media_id}",
                    "mime_type": mime_type,
                    "sha256": hashlib.sha256(content).hexdigest(),
                    "file_size": len(content),
                    "id": media_id,
                },
            )
        return graph_error(2500, "Unknown path components", error_type="OAuthException", status=400)

    def _find_media(self, media_id: str) -> tuple[bytes, str] | None:
        with self._state:
            found = self._media.get(media_id)
        if found is None and self.serve_any_media:
            return PLACEHOLDER_PNG, "image/png"
        return found

    def _send(self, request: RecordedRequest) -> Reply:
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError):
            return graph_error(100, "(#100) Invalid parameter", details="Request body is not JSON")
        if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
            return graph_error(
                100,
                "(#100) The parameter messaging_product is required.",
                details="messaging_product must be whatsapp",
            )
        if body.get("status") == "read":  # mark as read
            return Reply(200, {"success": True})
        to = str(body.get("to") or "")
        recipient = str(body.get("recipient") or "")
        if not to and not recipient:
            return graph_error(100, "(#100) The parameter to is required.")
        if to and not re.fullmatch(r"\d{7,15}", to):
            return graph_error(
                131009, "(#131009) Parameter value is not valid", details="to is not a valid phone number"
            )
        kind = body.get("type", "text")
        if kind not in _TYPES:
            return graph_error(131051, "(#131051) Message type unknown", details=f"type {kind!r}")
        problem = _validate(kind, body.get(kind))
        if problem:
            return graph_error(131009, "(#131009) Parameter value is not valid", details=problem)
        with self._state:
            window_closed = to in self._closed_windows or recipient in self._closed_windows
            undeliverable = to in self._undeliverable
            self._counter += 1
            serial = self._counter
        if undeliverable:
            return graph_error(131026, "(#131026) Message Undeliverable.", details="Message Undeliverable.")
        if window_closed and kind != "template":
            return graph_error(
                131047,
                "(#131047) Re-engagement message",
                details="Message failed to send because more than 24 hours have passed since the customer"
                " last replied to this number.",
            )
        raw_id = f"{to or recipient}:{serial}:".encode() + os.urandom(8)
        wamid = "wamid." + base64.b64encode(raw_id).decode("ascii")
        message: dict[str, Any] = {"id": wamid}
        if kind == "template":
            message["message_status"] = "accepted"
        contact: dict[str, Any] = {"input": to or recipient}
        if to:
            contact["wa_id"] = to
        else:
            contact["user_id"] = recipient
        if self.webhook_url and self.app_secret:
            billable = kind == "template" and window_closed  # replies in the window are free
            self.post_later(self._status_webhooks(wamid, body, billable))
        return Reply(200, {"messaging_product": "whatsapp", "contacts": [contact], "messages": [message]})

    # -- status webhooks ------------------------------------------------------------------
    def _status_webhooks(self, wamid: str, sent: dict[str, Any], billable: bool) -> list[Callback]:
        """``sent``, ``delivered`` and ``read`` for one accepted message, as Meta posts them.

        As documented for Graph v23 and lower: ``conversation`` and ``pricing`` come with
        ``sent`` and ``delivered`` (the conversation's ``expiration_timestamp`` only with
        ``sent``), not with ``read``; ``biz_opaque_callback_data`` is echoed when the send
        had it; a send to a business-scoped user id is reported with ``recipient_user_id``.
        """
        assert self.webhook_url is not None and self.app_secret is not None
        category = "utility" if sent.get("type") == "template" else "service"
        conversation_id = uuid.uuid4().hex
        steps = (("sent", self.receipt_delay), ("delivered", self.receipt_delay), ("read", self.read_delay))
        callbacks = []
        at = time.time()
        for word, delay in steps:
            at += delay
            status: dict[str, Any] = {"id": wamid, "status": word, "timestamp": str(int(at))}
            if sent.get("to"):
                status["recipient_id"] = str(sent["to"])
            else:
                status["recipient_user_id"] = str(sent.get("recipient") or "")
            if sent.get("biz_opaque_callback_data"):
                status["biz_opaque_callback_data"] = sent["biz_opaque_callback_data"]
            if word != "read":
                conversation: dict[str, Any] = {"id": conversation_id}
                if word == "sent":
                    conversation["expiration_timestamp"] = str(int(at) + 24 * 3600)
                conversation["origin"] = {"type": category}
                status["conversation"] = conversation
                status["pricing"] = {
                    "billable": billable,
                    "pricing_model": "PMP",
                    "type": "regular" if billable else "free_customer_service",
                    "category": category,
                }
            notification = {
                "object": "whatsapp_business_account",
                "entry": [
                    {
                        "id": self.business_account_id,
                        "changes": [
                            {
                                "value": {
                                    "messaging_product": "whatsapp",
                                    "metadata": {
                                        "display_phone_number": self.display_phone_number,
                                        "phone_number_id": self.phone_number_id,
                                    },
                                    "statuses": [status],
                                },
                                "field": "messages",
                            }
                        ],
                    }
                ],
            }
            raw, signature = signed_body(self.app_secret, notification)
            headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature}
            callbacks.append(Callback(self.webhook_url, raw, headers, delay=delay, label=word))
        return callbacks


def _validate(kind: str, spec: Any) -> str | None:
    """Meta's documented limits for what we send; None when the message is acceptable."""
    if not isinstance(spec, dict):
        return f"{kind} object is required"
    if kind == "text":
        text = spec.get("body")
        if not isinstance(text, str) or not text.strip():
            return "text.body is required"
        if len(text) > 4096:
            return "text.body is longer than 4096 characters"
    elif kind == "image":
        if not spec.get("link") and not spec.get("id"):
            return "image.link or image.id is required"
        if len(spec.get("caption") or "") > 1024:
            return "image.caption is longer than 1024 characters"
    elif kind == "template":
        if not spec.get("name") or not isinstance(spec.get("language"), dict):
            return "template.name and template.language are required"
        for component in spec.get("components") or []:
            for parameter in component.get("parameters") or []:
                value = str(parameter.get("text") or "")
                if "\n" in value or "\t" in value or "     " in value:
                    return "template parameter has new lines, tabs or more than 4 consecutive spaces"
    elif kind == "interactive":
        return _validate_interactive(spec)
    return None


def _validate_interactive(spec: dict[str, Any]) -> str | None:
    body = (spec.get("body") or {}).get("text")
    if not isinstance(body, str) or not body:
        return "interactive.body.text is required"
    if len(body) > 1024:
        return "interactive.body.text is longer than 1024 characters"
    action = spec.get("action") or {}
    if spec.get("type") == "button":
        buttons = action.get("buttons") or []
        if not 1 <= len(buttons) <= 3:
            return "interactive button messages need 1 to 3 buttons"
        titles = [((b.get("reply") or {}).get("title") or "") for b in buttons]
        ids = [((b.get("reply") or {}).get("id") or "") for b in buttons]
        if any(not t or len(t) > 20 for t in titles):
            return "button title must be 1 to 20 characters"
        if len(set(ids)) != len(ids) or len(set(titles)) != len(titles) or not all(ids):
            return "button ids and titles must be unique and non-empty"
    elif spec.get("type") == "list":
        label = action.get("button")
        if not isinstance(label, str) or not 1 <= len(label) <= 20:
            return "list action.button must be 1 to 20 characters"
        rows = [row for section in action.get("sections") or [] for row in section.get("rows") or []]
        if not 1 <= len(rows) <= 10:
            return "a list needs 1 to 10 rows"
        for row in rows:
            if not row.get("id") or not row.get("title") or len(row["title"]) > 24:
                return "list row title must be 1 to 24 characters"
            if len(row.get("description") or "") > 72:
                return "list row description is longer than 72 characters"
    else:
        return f"interactive type {spec.get('type')!r} is not supported here"
    return None


def signed_body(app_secret: str, body: dict[str, Any]) -> tuple[bytes, str]:
    """Serialize a webhook body and sign it like Meta (for tests that post statuses)."""
    raw = json.dumps(body, separators=(",", ":")).encode("utf-8")
    return raw, "sha256=" + hmac.new(app_secret.encode(), raw, hashlib.sha256).hexdigest()
