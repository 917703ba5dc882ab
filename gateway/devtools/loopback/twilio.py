"""A Twilio stand-in: the Messages resource and media URLs, answered the way Twilio does.

Used by the adapter tests (the real ``twilio`` Client talks to it) and by
``lapor-gateway run`` as the built-in provider when no real account is set up.
With ``status_callbacks=True`` it also posts signed ``sent`` and ``delivered``
callbacks to the ``StatusCallback`` URL of each accepted message, like Twilio,
``receipt_delay`` seconds apart (the first one too), from a background thread.
"""

from __future__ import annotations

import base64
import re
import struct
import uuid
import zlib
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from adapters.sms.segments import split_segments
from gateway.devtools.loopback.server import Callback, LoopbackProvider, RecordedRequest, Reply

API_VERSION = "2010-04-01"
_MESSAGES = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/Messages\.json$")
_MEDIA = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/Messages/(?P<msg>[^/]+)/Media/(?P<media>[^/.]+)$")
_CONTENT = re.compile(r"^/content/(?P<media>[^/]+)$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def _png_pixel() -> bytes:
    """A valid 1x1 PNG, built here so the stand-in needs no binary fixture."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xd2\x2d\x2d")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


PNG_PIXEL = _png_pixel()


# Kept with each accepted message for the tests, never shown in the API's answers.
_INTERNAL_FIELDS = frozenset({"media_urls", "status_callback", "_sent_at"})


def _date_bound(value: str | None, *, end_of_day: bool = False) -> datetime | None:
    """A ``DateSent`` bound as Twilio takes it: ``YYYY-MM-DD`` (the whole day) or an ISO 8601
    UTC timestamp (``2026-12-02T06:41:23Z``, as the twilio library writes a datetime)."""
    if not value:
        return None
    if len(value) == 10:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
        return day.replace(hour=23, minute=59, second=59) if end_of_day else day
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _error(status: int, code: int, message: str) -> Reply:
    return Reply(
        status,
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
    )


class TwilioStandIn(LoopbackProvider):
    """Answers ``POST`` and ``GET /2010-04-01/Accounts/{sid}/Messages.json`` (create, list) and
    media GETs like Twilio."""

    def __init__(
        self,
        account_sid: str = "AC" + "0" * 32,
        auth_token: str = "loopback-auth-token",  # noqa: S107 (the stand-in's dummy token)
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        delay: float = 0.0,
        status_callbacks: bool = False,
        receipt_delay: float = 0.0,
    ) -> None:
        super().__init__(host=host, port=port, delay=delay)
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.status_callbacks = status_callbacks
        self.receipt_delay = receipt_delay
        self.sent: list[dict[str, Any]] = []  # accepted message resources, in order
        self.media: dict[str, tuple[bytes, str]] = {}

    # -- helpers for tests and demos -------------------------------------------------
    def clear(self) -> None:
        super().clear()
        with self._lock:
            self.sent.clear()

    def add_media(self, content: bytes = PNG_PIXEL, content_type: str = "image/png") -> str:
        """Store a media file; returns its MediaUrl as Twilio would put it in a webhook."""
        media_sid = "ME" + uuid.uuid4().hex
        message_sid = "MM" + uuid.uuid4().hex
        self.media[media_sid] = (content, content_type)
        account = f"{self.base_url}/{API_VERSION}/Accounts/{self.account_sid}"
        return f"{account}/Messages/{message_sid}/Media/{media_sid}"

    def _authorized(self, request: RecordedRequest, sid: str) -> bool:
        header = request.headers.get("authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except ValueError:
            return False
        return user == self.account_sid == sid and password == self.auth_token

    # -- the provider ---------------------------------------------------------------
    def handle(self, request: RecordedRequest) -> Reply:
        match = _MESSAGES.match(request.path)
        if match and request.method in ("POST", "GET"):
            if not self._authorized(request, match["sid"]):
                return _error(401, 20003, "Authenticate")
            if request.method == "GET":
                return self._list_messages(request)
            return self._create_message(request)
        match = _MEDIA.match(request.path)
        if match and request.method == "GET":
            if not self._authorized(request, match["sid"]):
                return _error(401, 20003, "Authenticate")
            if match["media"] not in self.media:
                return _error(404, 20404, f"The requested resource {request.path} was not found")
            # Twilio answers a media URL with a redirect to its content host.
            return Reply(307, "", {"Location": f"{self.base_url}/content/{match['media']}"})
        match = _CONTENT.match(request.path)
        if match and request.method == "GET" and match["media"] in self.media:
            content, content_type = self.media[match["media"]]
            return Reply(200, content, {"Content-Type": content_type})
        return _error(404, 20404, f"The requested resource {request.path} was not found")

    def _list_messages(self, request: RecordedRequest) -> Reply:
        """``GET .../Messages.json``: the accepted messages, newest first, filtered by ``To``,
        ``From`` and the ``DateSent>`` / ``DateSent<`` bounds (inclusive, a date or a UTC
        timestamp), one page of ``PageSize`` (default 50) as Twilio pages them."""
        query = request.query
        try:
            after = _date_bound(query.get("DateSent>"))
            before = _date_bound(query.get("DateSent<"), end_of_day=True)
            page = int(query.get("Page") or 0)
            size = min(1000, max(1, int(query.get("PageSize") or 50)))
        except ValueError as exc:
            return _error(400, 20001, f"Invalid parameter: {exc}")
        with self._lock:
            accepted = list(self.sent)
        found = [
            {k: v for k, v in m.items() if k not in _INTERNAL_FIELDS}
            for m in reversed(accepted)
            if query.get("To") in (None, m["to"])
            and query.get("From") in (None, m["from"])
            and (after is None or m["_sent_at"] >= after)
            and (before is None or m["_sent_at"] <= before)
        ]
        chunk = found[page * size : (page + 1) * size]
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages.json"
        kept = [(k, v) for k, v in query.items() if k not in ("Page", "PageSize", "PageToken")]

        def uri(number: int) -> str:
            return f"{base}?{urlencode([*kept, ('PageSize', size), ('Page', number)])}"

        more = (page + 1) * size < len(found)
        return Reply(
            200,
            {
                "end": page * size + max(0, len(chunk) - 1),
                "first_page_uri": uri(0),
                "messages": chunk,
                "next_page_uri": uri(page + 1) + f"&PageToken=PA{page + 1}" if more else None,
                "page": page,
                "page_size": size,
                "previous_page_uri": uri(page - 1) if page > 0 else None,
                "start": page * size,
                "uri": uri(page),
            },
        )

    def _create_message(self, request: RecordedRequest) -> Reply:
        pairs = request.form_list()
        form = dict(pairs)
        to = form.get("To", "")
        from_ = form.get("From", "")
        body = form.get("Body", "")
        media_urls = [v for k, v in pairs if k == "MediaUrl"]
        if not to:
            return _error(400, 21604, "A 'To' phone number is required.")
        if not from_ and not form.get("MessagingServiceSid"):
            return _error(400, 21603, "A 'From' phone number is required.")
        if not body and not media_urls and not form.get("ContentSid"):
            return _error(400, 21602, "Message body is required.")
        number = to.removeprefix("whatsapp:")
        if not _E164.match(number):
            return _error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if from_.startswith("whatsapp:") != to.startswith("whatsapp:"):
            return _error(400, 63007, "Twilio could not find a Channel with the specified From address")
        if len(body) > 1600:
            return _error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        sid = ("MM" if media_urls else "SM") + uuid.uuid4().hex
        sent_at = datetime.now(UTC)
        now = format_datetime(sent_at, usegmt=False).replace("-0000", "+0000")
        resource = {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            # The stand-in hands every message on at once: sent the moment it is created.
            "date_sent": now,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": from_,
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": str(len(media_urls)),
            "num_segments": str(split_segments(body).count if body else 1),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {
                "media": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}/Media.json"
            },
            "to": to,
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json",
        }
        with self._lock:
            self.sent.append(
                {
                    **resource,
                    "media_urls": media_urls,
                    "status_callback": form.get("StatusCallback"),
                    "_sent_at": sent_at,
                }
            )
        callback = form.get("StatusCallback")
        if self.status_callbacks and callback:
            self.post_later(self._status_callbacks(callback, resource))
        return Reply(201, resource)

    def _status_callbacks(self, url: str, resource: dict[str, Any]) -> list[Callback]:
        """``sent`` then ``delivered``, form-encoded and signed with X-Twilio-Signature for ``url``."""
        validator = RequestValidator(self.auth_token)
        callbacks = []
        for status in ("sent", "delivered"):
            params = {
                "AccountSid": self.account_sid,
                "ApiVersion": API_VERSION,
                "From": resource["from"],
                "MessageSid": resource["sid"],
                "MessageStatus": status,
                "SmsSid": resource["sid"],
                "SmsStatus": status,
                "To": resource["to"],
            }
            headers = {
                "X-Twilio-Signature": validator.compute_signature(url, params),
                "Content-Type": "application/x-www-form-urlencoded",
            }
            callbacks.append(
                Callback(url, urlencode(params).encode(), headers, delay=self.receipt_delay, label=status)
            )
        return callbacks
