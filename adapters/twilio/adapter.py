"""Twilio Programmable Messaging: SMS and WhatsApp on one webhook.

Twilio posts form-encoded webhooks signed with ``X-Twilio-Signature`` (HMAC-SHA1
of the URL plus the sorted form parameters, keyed by the auth token). Inbound
messages and status callbacks use the same form vocabulary; a WhatsApp sender is
told apart by its ``whatsapp:`` prefix. Sending goes through the official
``twilio`` client, pointed at ``TWILIO_API_BASE_URL`` so tests and demos can talk
to a loopback stand-in with the real library.
"""

from __future__ import annotations

import base64
import binascii
import json
import mimetypes
import re
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from adapters.base import (
    Attachment,
    ChannelAdapter,
    InboundMessage,
    Location,
    OutboundMessage,
    ParseResult,
    PayloadError,
    SendError,
    SendResult,
    SignatureError,
    SimulatedRequest,
    StatusUpdate,
    WebhookRequest,
    WebhookResponse,
)
from adapters.common import (
    address_value,
    clean_text,
    coordinates,
    environment_has_http_settings,
    http_session,
    normalize_phone,
    phone_address,
    retry_after_seconds,
)

DEFAULT_API_BASE_URL = "https://api.twilio.com"
DEFAULT_PUBLIC_BASE_URL = "http://localhost:5000"
# Seconds to wait for Twilio's API before a send counts as a (retryable) timeout.
# Twilio answers in well under a second; ten leaves room for a slow network
# without holding a send worker for long.
DEFAULT_TIMEOUT = 10.0
# Largest media file fetched; WhatsApp allows 16 MB for video, Twilio MMS 5 MB.
MAX_MEDIA_BYTES = 25 * 1024 * 1024

WEBHOOK_PATH = "/webhooks/twilio"
STATUS_PATH = "/webhooks/twilio/status"

# What Twilio expects back from a messaging webhook when we do not reply inline:
# an empty TwiML document (replies go out later through the REST API).
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'

# Twilio's MessageStatus words -> our DELIVERY_STATUSES. "sending" is still inside
# Twilio (not yet handed to the carrier), so it counts as queued. Statuses of
# inbound messages ("receiving", "received") are not delivery news and are ignored.
STATUS_TABLE: dict[str, str] = {
    "accepted": "queued",
    "scheduled": "queued",
    "queued": "queued",
    "sending": "queued",
    "sent": "sent",
    "delivered": "delivered",
    "partially_delivered": "delivered",
    "read": "read",
    "undelivered": "failed",
    "failed": "failed",
    "canceled": "failed",
}

# Statuses of an inbound message: Twilio reports them, but they are no delivery news for us.
INBOUND_STATUS_WORDS = frozenset({"receiving", "received"})

# Error code Twilio sends when the citizen texted STOP: nothing more may be sent.
OPTED_OUT_CODE = "21610"

# A Body that may be base64: only the base64 alphabet, padded to a multiple of four, long enough
# that a citizen's own word is not mistaken for it (see `decoded_body`).
_BASE64_BODY = re.compile(r"[A-Za-z0-9+/]{14,}[A-Za-z0-9+/=]{2}")


@dataclass(frozen=True)
class ErrorRule:
    """How one Twilio error code is handled when a send fails."""

    reason: str
    retryable: bool = False
    unreachable: bool = False
    window_closed: bool = False


# Twilio REST error codes -> how a send job treats them. Codes not listed fall
# back to the HTTP status (429 and 5xx retry, other 4xx are final).
ERROR_TABLE: dict[int, ErrorRule] = {
    20003: ErrorRule("authentication failed (check TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN)"),
    20429: ErrorRule("too many requests", retryable=True),
    21211: ErrorRule("invalid 'To' phone number"),
    21408: ErrorRule("sending to this region is not enabled"),
    21610: ErrorRule("the recipient opted out (STOP)", unreachable=True),
    21612: ErrorRule("Twilio cannot route to this number"),
    21614: ErrorRule("'To' is not a mobile number"),
    21617: ErrorRule("message body too long"),
    63003: ErrorRule("WhatsApp recipient not reachable", unreachable=True),
    63016: ErrorRule("outside the WhatsApp 24-hour window; a template is needed", window_closed=True),
    63018: ErrorRule("WhatsApp rate limit", retryable=True),
}


def _kind_of(content_type: str | None) -> str:
    """Our attachment kind from a MIME type; anything not image/audio/video is a document."""
    major = (content_type or "").split("/", 1)[0].lower()
    if major in ("image", "audio", "video"):
        return major
    return "document"


class _MultiForm(dict[str, list[str]]):
    """Form parameters with repeated keys kept, in the shape RequestValidator reads.

    The validator calls ``getall`` (Flask's MultiDict method) for every key, so a
    repeated key such as ``MediaUrl`` is signed with all of its values.
    """

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, str]]) -> _MultiForm:
        form = cls()
        for key, value in pairs:
            form.setdefault(key, []).append(value)
        return form

    def getall(self, key: str) -> list[str]:
        return self[key]


class _BaseUrlHttpClient(TwilioHttpClient):
    """The twilio library's HTTP client, sending ``api.twilio.com`` calls to another base URL.

    The library builds absolute URLs from a fixed domain; rewriting the host here
    keeps every resource working unchanged. It also remembers, per thread, the
    headers of the last response, because ``TwilioRestException`` drops them and a
    429's ``Retry-After`` lives there.
    """

    # Assigned in the library's untyped constructor: declared so that mypy knows it.
    session: requests.Session | None

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__(timeout=timeout)
        if self.session is not None:
            # The library's own requests session, as ours: pooled for many concurrent sends and
            # reading the environment once per host, not on every send (see `http_session`).
            self.session.close()
            self.session = http_session()
        self._base = urlsplit(base_url.rstrip("/"))
        self._local = threading.local()

    def rewrite(self, url: str) -> str:
        parts = urlsplit(url)
        if parts.netloc != "api.twilio.com":
            return url
        path = self._base.path + parts.path
        return urlunsplit((self._base.scheme, self._base.netloc, path, parts.query, parts.fragment))

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> TwilioResponse:
        self._local.headers = {}
        response = super().request(method, self.rewrite(url), *args, **kwargs)
        self._local.headers = dict(response.headers or {})
        return response

    def last_headers(self) -> Mapping[str, str]:
        return getattr(self._local, "headers", {})


def decoded_body(body: str) -> str | None:
    """The text of an SMS Body that Twilio delivered base64-encoded, or None to keep it as typed.

    Twilio has been seen to hand over some concatenated SMS with the Body in base64, and its
    webhook carries no parameter that says so. So a Body is decoded only when nothing else can be
    meant: base64 alphabet with correct padding, at least 16 characters, no space, and decoding to
    strict UTF-8 that is printable text with at least one space in it (a sentence). A citizen's own
    word or code (``LaporanJalanRusak12``, a tracking number) fails one of these and is kept.
    """
    if len(body) % 4 or not _BASE64_BODY.fullmatch(body):
        return None
    try:
        text = base64.b64decode(body, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    if not any(ch.isspace() for ch in text):
        return None
    if not all(ch.isprintable() or ch in "\n\r\t" for ch in text):
        return None
    return text


def _whatsapp_address(raw: str) -> str:
    number = normalize_phone(address_value(raw))
    return f"whatsapp:{number or address_value(raw).strip()}"


def _address(raw: str) -> str:
    if raw.lower().startswith("whatsapp:"):
        return _whatsapp_address(raw)
    return phone_address(raw)


class TwilioAdapter(ChannelAdapter):
    """SMS and WhatsApp through Twilio's Messaging API."""

    name = "twilio"
    # Twilio refuses bodies longer than 1,600 characters (error 21617).
    max_text_length = 1600
    menu_style = "numbered"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        sms_from: str | None = None,
        whatsapp_from: str | None = None,
        api_base_url: str = DEFAULT_API_BASE_URL,
        public_base_url: str = DEFAULT_PUBLIC_BASE_URL,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.sms_from = sms_from or None
        if whatsapp_from and not whatsapp_from.startswith("whatsapp:"):
            whatsapp_from = f"whatsapp:{whatsapp_from}"
        self.whatsapp_from = whatsapp_from or None
        self.api_base_url = api_base_url.rstrip("/")
        self.public_base_url = public_base_url.rstrip("/")
        self.timeout = timeout
        self._validator = RequestValidator(auth_token)
        self._http = _BaseUrlHttpClient(self.api_base_url, timeout)
        self._client: Client | None = None
        self._media = requests.Session()
        self._media.trust_env = environment_has_http_settings()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TwilioAdapter | None:
        sid = env.get("TWILIO_ACCOUNT_SID", "").strip()
        token = env.get("TWILIO_AUTH_TOKEN", "").strip()
        if not sid or not token:
            return None
        return cls(
            sid,
            token,
            sms_from=env.get("TWILIO_SMS_FROM") or None,
            whatsapp_from=env.get("TWILIO_WHATSAPP_FROM") or None,
            api_base_url=env.get("TWILIO_API_BASE_URL") or DEFAULT_API_BASE_URL,
            public_base_url=env.get("PUBLIC_BASE_URL") or DEFAULT_PUBLIC_BASE_URL,
            timeout=float(env.get("TWILIO_TIMEOUT") or DEFAULT_TIMEOUT),
        )

    @property
    def client(self) -> Client:
        """One twilio Client per adapter, built on first use (it holds a connection pool)."""
        if self._client is None:
            self._client = Client(self.account_sid, self.auth_token, http_client=self._http, environment={})
        return self._client

    # -- webhooks ---------------------------------------------------------------------
    @staticmethod
    def _form_pairs(request: WebhookRequest) -> tuple[tuple[str, str], ...]:
        if request.form:
            return request.form
        if request.body:
            return tuple(parse_qsl(request.body.decode("utf-8", errors="replace"), keep_blank_values=True))
        return ()

    def verify(self, request: WebhookRequest) -> None:
        """Check ``X-Twilio-Signature`` against the public URL and every form value.

        RequestValidator tries the URL with and without the default port, because
        Twilio signs whatever URL was configured, ``:443`` included or not.
        """
        signature = request.header("X-Twilio-Signature")
        if not signature:
            raise SignatureError("missing X-Twilio-Signature")
        params = _MultiForm.of(self._form_pairs(request))
        if not self._validator.validate(request.url, params, signature):
            raise SignatureError("X-Twilio-Signature does not match")

    def parse(self, request: WebhookRequest) -> ParseResult:
        pairs = self._form_pairs(request)
        if not pairs:
            raise PayloadError("empty form body")
        multi = _MultiForm.of(pairs)
        raw: dict[str, Any] = {k: (v[0] if len(v) == 1 else list(v)) for k, v in multi.items()}
        form = {k: v[0] for k, v in multi.items()}
        result = ParseResult(response=WebhookResponse(200, EMPTY_TWIML, "text/xml"))
        is_status = request.path.rstrip("/").endswith("/status") or (
            "MessageStatus" in form and "Body" not in form
        )
        if is_status:
            self._parse_status(form, raw, result)
        else:
            result.messages.append(self._parse_message(form, raw))
        return result

    def _parse_status(self, form: Mapping[str, str], raw: Mapping[str, Any], result: ParseResult) -> None:
        sid = form.get("MessageSid") or form.get("SmsSid")
        if not sid:
            raise PayloadError("status callback without MessageSid")
        word = (form.get("MessageStatus") or form.get("SmsStatus") or "").strip().lower()
        if not word:
            # Nothing to apply and nothing wrong with the message: acknowledged, so Twilio moves on.
            result.ignored.append("status callback without MessageStatus")
            return
        if word in INBOUND_STATUS_WORDS:
            result.ignored.append(f"status {word!r} is not a delivery status")
            return
        status = STATUS_TABLE.get(word)
        if status is None:
            # A word we do not know could be a failure: refused, so the deployer sees it.
            raise PayloadError(f"unknown MessageStatus {word!r}")
        error_code = (form.get("ErrorCode") or "").strip() or None
        if error_code == "0":
            error_code = None
        to = form.get("To")
        result.statuses.append(
            StatusUpdate(
                channel=self.name,
                provider_message_id=sid,
                status=status,
                error_code=error_code,
                error_message=form.get("ErrorMessage") or None,
                recipient=_address(to) if to else None,
                opted_out=error_code == OPTED_OUT_CODE,
                raw=raw,
            )
        )

    def _parse_message(self, form: Mapping[str, str], raw: Mapping[str, Any]) -> InboundMessage:
        sid = form.get("MessageSid") or form.get("SmsMessageSid") or form.get("SmsSid")
        if not sid:
            raise PayloadError("inbound message without MessageSid")
        sender_raw = (form.get("From") or "").strip()
        if not sender_raw:
            raise PayloadError("inbound message without From")
        sender = _address(sender_raw)
        whatsapp = sender.startswith("whatsapp:")
        to = (form.get("To") or "").strip()
        body = form.get("Body") or ""
        text = clean_text(body if whatsapp else decoded_body(body) or body)

        try:
            declared = int(form.get("NumMedia") or 0)
        except ValueError:
            raise PayloadError(f"NumMedia is not a number: {form.get('NumMedia')!r}")
        attachments: list[Attachment] = []
        index = 0
        while index < declared or f"MediaUrl{index}" in form:
            url = form.get(f"MediaUrl{index}")
            if url:
                content_type = form.get(f"MediaContentType{index}") or None
                attachments.append(
                    Attachment(
                        kind=_kind_of(content_type),
                        content_type=content_type,
                        url=url,
                        media_id=url.rstrip("/").rsplit("/", 1)[-1],
                    )
                )
            index += 1

        location: Location | None = None
        if form.get("Latitude") and form.get("Longitude"):
            place = coordinates(form["Latitude"], form["Longitude"])
            if place is None:
                raise PayloadError("Latitude/Longitude are not a place (numbers within ±90 and ±180)")
            location = Location(
                latitude=place[0],
                longitude=place[1],
                name=form.get("Label") or None,
                address=form.get("Address") or None,
            )

        # Quick-reply buttons exist on WhatsApp only; on an SMS these fields are not the citizen's.
        button_payload = (form.get("ButtonPayload") or None) if whatsapp else None
        button_text = (form.get("ButtonText") or None) if whatsapp else None
        if location is not None:
            kind = "location"
        elif button_payload or button_text:
            kind = "button"
            button_payload = button_payload or button_text
            text = clean_text(button_text) or text
        elif attachments:
            kind = attachments[0].kind
            if text and len(attachments) == 1:
                attachments[0] = replace(attachments[0], caption=text)
        else:
            kind = "text"

        return InboundMessage(
            channel=self.name,
            provider_message_id=sid,
            sender=sender,
            text=text,
            kind=kind,
            recipient=_address(to) if to else None,
            sender_name=clean_text(form.get("ProfileName")) or None,
            attachments=tuple(attachments),
            location=location,
            button_payload=button_payload,
            raw=raw,
        )

    # -- sending ----------------------------------------------------------------------
    def _route(self, address: str) -> tuple[str, str]:
        """Our sender and Twilio's ``To`` for one of our addresses; the scheme picks SMS or WhatsApp."""
        to = address.strip()
        if to.startswith("whatsapp:"):
            sender, target = self.whatsapp_from, _whatsapp_address(to)
            setting = "TWILIO_WHATSAPP_FROM"
        elif to.startswith("tel:"):
            sender, target = self.sms_from, address_value(to)
            setting = "TWILIO_SMS_FROM"
        else:
            raise SendError(f"Twilio cannot reach address scheme of {to.split(':', 1)[0]!r}", retryable=False)
        if not sender:
            raise SendError(f"{setting} is not set", retryable=False, code="not_configured")
        return sender, target

    def send(self, message: OutboundMessage) -> SendResult:
        """Send one SMS or WhatsApp message; ``message.to`` picks which by its scheme."""
        sender, target = self._route(message.to)

        params: dict[str, Any] = {
            "to": target,
            "from_": sender,
            "status_callback": self.public_base_url + STATUS_PATH,
        }
        if message.template is not None and message.template.name.startswith("HX"):
            # Twilio sends WhatsApp templates as Content API items, named by their HX sid.
            params["content_sid"] = message.template.name
            variables = {str(i): v for i, v in enumerate(message.template.parameters, start=1)}
            if variables:
                params["content_variables"] = json.dumps(variables)
        else:
            params["body"] = message.text
        if message.media_url:
            params["media_url"] = [message.media_url]

        try:
            created = self.client.messages.create(**params)
        except (TwilioRestException, TwilioServiceException) as exc:
            raise self._send_error(exc)
        except requests.Timeout:
            raise SendError("Twilio did not answer in time", retryable=True, code="timeout")
        except requests.RequestException as exc:
            raise SendError(f"cannot reach Twilio: {type(exc).__name__}", retryable=True, code="connection")
        try:
            segments = int(created.num_segments or 1)
        except (TypeError, ValueError):
            segments = 1
        status = STATUS_TABLE.get(str(created.status or "queued"), "queued")
        return SendResult(provider_message_id=str(created.sid), status=status, segments=segments)

    def _send_error(self, exc: TwilioRestException | TwilioServiceException) -> SendError:
        status = int(exc.status or 0)
        try:
            code = int(exc.code) if exc.code is not None else None
        except (TypeError, ValueError):
            code = None
        headers = {k.lower(): v for k, v in self._http.last_headers().items()}
        retry_after = retry_after_seconds(headers.get("retry-after"))
        rule = ERROR_TABLE.get(code) if code is not None else None
        if rule is None:
            if status == 429:
                rule = ErrorRule("too many requests", retryable=True)
            elif status >= 500:
                rule = ErrorRule(f"Twilio server error {status}", retryable=True)
            elif status in (401, 403):
                rule = ErrorRule(f"Twilio refused our credentials ({status})")
            else:
                rule = ErrorRule(f"Twilio rejected the message ({status})")
        return SendError(
            rule.reason,
            retryable=rule.retryable,
            code=str(code) if code is not None else str(status),
            retry_after=retry_after if rule.retryable else None,
            unreachable=rule.unreachable,
            window_closed=rule.window_closed,
        )

    can_find_sent = True

    def find_sent(self, to: str, since: datetime, text: str) -> SendResult | None:
        """Ask Twilio's message list (by recipient, sent since ``since``) for a message of ours
        with this text: the one way to settle a send cut off by a dead worker."""
        sender, target = self._route(to)
        wanted = text.strip()
        try:
            for found in self.client.messages.list(
                to=target, from_=sender, date_sent_after=since, page_size=50, limit=200
            ):
                if str(found.direction or "").startswith("outbound") and (found.body or "").strip() == wanted:
                    status = STATUS_TABLE.get(str(found.status or "queued"), "queued")
                    return SendResult(provider_message_id=str(found.sid), status=status)
        except (TwilioRestException, TwilioServiceException) as exc:
            raise self._send_error(exc)
        except requests.Timeout:
            raise SendError("Twilio did not answer in time", retryable=True, code="timeout")
        except requests.RequestException as exc:
            raise SendError(f"cannot reach Twilio: {type(exc).__name__}", retryable=True, code="connection")
        return None

    # -- media ------------------------------------------------------------------------
    def _rewrite_media_url(self, url: str) -> str:
        return self._http.rewrite(url)

    def fetch_media(self, attachment: Attachment) -> tuple[bytes, str | None]:
        """Download a MediaUrl with the account's basic auth, following Twilio's redirect.

        Credentials go only to Twilio's API host (or the configured stand-in);
        requests drops them itself when a redirect leaves that host.
        """
        if not attachment.url:
            raise SendError("attachment has no URL", retryable=False)
        url = self._rewrite_media_url(attachment.url)
        host = urlsplit(url).netloc
        auth = (self.account_sid, self.auth_token) if host == urlsplit(self.api_base_url).netloc else None
        try:
            with self._media.get(
                url, auth=auth, timeout=self.timeout, allow_redirects=True, stream=True
            ) as response:
                if response.status_code == 429 or response.status_code >= 500:
                    raise SendError(
                        f"media download failed ({response.status_code})",
                        retryable=True,
                        code=str(response.status_code),
                        retry_after=retry_after_seconds(response.headers.get("Retry-After")),
                    )
                if response.status_code >= 400:
                    raise SendError(
                        f"media download refused ({response.status_code})",
                        retryable=False,
                        code=str(response.status_code),
                    )
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_content(64 * 1024):
                    size += len(chunk)
                    if size > MAX_MEDIA_BYTES:
                        raise SendError("media larger than the limit", retryable=False, code="too_large")
                    chunks.append(chunk)
                content_type = response.headers.get("Content-Type") or attachment.content_type
        except requests.Timeout:
            raise SendError("media download timed out", retryable=True, code="timeout")
        except requests.RequestException as exc:
            raise SendError(f"media download failed: {type(exc).__name__}", retryable=True, code="connection")
        return b"".join(chunks), content_type

    # -- simulation -------------------------------------------------------------------
    def simulate(
        self,
        sender: str,
        text: str,
        *,
        photo_url: str | None = None,
        location: tuple[float, float] | None = None,
        message_id: str | None = None,
    ) -> SimulatedRequest:
        """A webhook exactly as Twilio would post it, signed with our auth token."""
        whatsapp = sender.lower().startswith("whatsapp:")
        number = normalize_phone(address_value(sender)) or address_value(sender)
        if whatsapp:
            from_ = f"whatsapp:{number}"
            to = self.whatsapp_from or "whatsapp:+14155238886"
        else:
            from_ = number
            to = self.sms_from or "+15005550006"
        sid = message_id or "SM" + uuid.uuid4().hex
        pairs: list[tuple[str, str]] = [
            ("ToCountry", "US" if address_value(to).startswith("+1") else "ID"),
            ("SmsMessageSid", sid),
            ("NumMedia", "1" if photo_url else "0"),
            ("SmsSid", sid),
            ("SmsStatus", "received"),
            ("Body", text),
            ("To", to),
            ("NumSegments", "1"),
            ("MessageSid", sid),
            ("AccountSid", self.account_sid),
            ("From", from_),
            ("ApiVersion", "2010-04-01"),
        ]
        if whatsapp:
            pairs += [("ProfileName", "Warga Simulasi"), ("WaId", number.lstrip("+"))]
            pairs.append(("MessageType", "location" if location else ("image" if photo_url else "text")))
        if photo_url:
            content_type = mimetypes.guess_type(urlsplit(photo_url).path)[0] or "image/jpeg"
            pairs += [("MediaUrl0", photo_url), ("MediaContentType0", content_type)]
        if location:
            pairs += [("Latitude", repr(float(location[0]))), ("Longitude", repr(float(location[1])))]
        url = self.public_base_url + WEBHOOK_PATH
        signature = self._validator.compute_signature(url, _MultiForm.of(pairs))
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
            "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
            "User-Agent": "TwilioProxy/1.1",
        }
        return SimulatedRequest("POST", WEBHOOK_PATH, headers, urlencode(pairs).encode("utf-8"))

    def close(self) -> None:
        if self._http.session is not None:
            self._http.session.close()
        self._media.close()
