"""The SMS aggregator behind the 1708 shortcode, in two dialects: Vonage and Infobip.

Citizens without a smartphone or data plan text the shortcode; the aggregator
pushes each message to ``/webhooks/sms`` and delivery receipts to
``/webhooks/sms/status``. Which aggregator a deployment has is a setting
(``SMS_PROFILE``), because Indonesian operators change aggregators more often
than they change anything else.

Answers to malformed webhooks: 400 with a reason (the project's standard). Both
aggregators retry any non-2xx answer for a while; a malformed body stays
malformed, so those retries are wasted but harmless, and the 400 shows up in the
aggregator's own logs where the deployer will look.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import requests

from adapters.base import (
    Attachment,
    ChannelAdapter,
    InboundMessage,
    OutboundMessage,
    ParseResult,
    PayloadError,
    Segment,
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
    http_session,
    load_json,
    normalize_phone,
    parse_epoch,
    phone_address,
    retry_after_seconds,
)
from adapters.sms.concat import MAX_PARTS
from adapters.sms.segments import GSM7, UCS2, SegmentPlan, capacity, fit_segments, is_gsm7
from adapters.sms.signature import (
    INFOBIP_HEADER,
    VONAGE_METHODS,
    body_signature,
    body_valid,
    vonage_signature,
    vonage_valid,
)

log = logging.getLogger(__name__)

PROFILES = ("vonage", "infobip")
DEFAULT_API_BASE_URLS = {"vonage": "https://rest.nexmo.com", "infobip": "https://api.infobip.com"}
DEFAULT_PUBLIC_BASE_URL = "http://localhost:5000"
DEFAULT_SHORTCODE = "1708"
# Cap of segments per reply: three GSM-7 parts (459 characters) hold every
# standard reply of the dialogue; longer texts are cut rather than billed.
DEFAULT_MAX_SEGMENTS = 3
# Cap of segments for an operator's reply (SMS_MAX_OPERATOR_SEGMENTS): a person answering a
# complaint writes more than the dialogue does. The inbox refuses a longer reply before it is
# queued (gateway/tickets/reply_budget.py), so this cap never cuts an operator's words.
DEFAULT_MAX_OPERATOR_SEGMENTS = 6
# Seconds to wait for the aggregator's API before a send counts as a retryable timeout.
DEFAULT_TIMEOUT = 10.0
WEBHOOK_PATH = "/webhooks/sms"
STATUS_PATH = "/webhooks/sms/status"

# Vonage delivery receipt ``status`` -> our DELIVERY_STATUSES. "accepted" and
# "buffered" mean the carrier holds it (sent, not delivered). "unknown" says
# nothing we can use, so it is ignored rather than moving the message.
VONAGE_DLR_TABLE: dict[str, str] = {
    "accepted": "sent",
    "buffered": "sent",
    "delivered": "delivered",
    "expired": "failed",
    "failed": "failed",
    "rejected": "failed",
}

# Vonage delivery receipt ``err-code`` meanings, shown to operators.
VONAGE_DLR_ERRORS: dict[str, str] = {
    "1": "unknown error",
    "2": "absent subscriber (temporary)",
    "3": "absent subscriber (permanent)",
    "4": "call barred by user",
    "5": "portability error",
    "6": "anti-spam rejection",
    "7": "handset busy",
    "8": "network error",
    "9": "illegal number",
    "10": "illegal message",
    "11": "unroutable",
    "12": "destination unreachable",
    "13": "subscriber age restriction",
    "14": "number blocked by carrier",
    "15": "prepaid insufficient funds",
    "16": "gateway quota exceeded",
    "99": "general error",
}

# Infobip status groupName -> our DELIVERY_STATUSES. PENDING_ACCEPTED (still at
# Infobip) is queued; every other PENDING is with the carrier.
INFOBIP_STATUS_TABLE: dict[str, str] = {
    "ACCEPTED": "queued",
    "PENDING": "sent",
    "DELIVERED": "delivered",
    "UNDELIVERABLE": "failed",
    "EXPIRED": "failed",
    "REJECTED": "failed",
}


@dataclass(frozen=True)
class SendRule:
    """How one aggregator answer code is handled by the send job."""

    reason: str
    retryable: bool = False
    unreachable: bool = False


# Vonage /sms/json per-message ``status`` codes.
VONAGE_SEND_TABLE: dict[str, SendRule] = {
    "1": SendRule("throttled", retryable=True),
    "2": SendRule("missing parameters"),
    "3": SendRule("invalid parameters"),
    "4": SendRule("invalid credentials (SMS_API_KEY / SMS_API_SECRET)"),
    "5": SendRule("aggregator internal error", retryable=True),
    "6": SendRule("invalid message (unroutable)"),
    "7": SendRule("number barred", unreachable=True),
    "8": SendRule("partner account barred"),
    "9": SendRule("partner quota exceeded (no credit)"),
    "10": SendRule("too many existing binds", retryable=True),
    "11": SendRule("account not enabled for HTTP"),
    "12": SendRule("message too long"),
    "14": SendRule("invalid signature"),
    "15": SendRule("invalid sender address"),
    "22": SendRule("invalid network code"),
    "23": SendRule("invalid callback URL"),
    "29": SendRule("non-whitelisted destination"),
    "32": SendRule("signature and API secret disallowed"),
    "33": SendRule("number de-activated", unreachable=True),
}

# Infobip status names (group REJECTED) that mean the number cannot be reached.
INFOBIP_UNREACHABLE = {"REJECTED_DND", "REJECTED_DESTINATION", "REJECTED_INVALID_DESTINATION"}


def _as_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def _parse_time(value: Any) -> datetime | None:
    """Aggregator timestamps: ``YYYY-MM-DD HH:MM:SS`` (UTC), ISO 8601, or Vonage's ``YYMMDDHHMM``."""
    if not value or not isinstance(value, str):
        return None
    for pattern in ("%Y-%m-%d %H:%M:%S", "%y%m%d%H%M"):
        try:
            return datetime.strptime(value, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    for pattern in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(value, pattern)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _int(params: Mapping[str, str], key: str) -> int:
    try:
        return int(params.get(key, ""))
    except ValueError:
        raise PayloadError(f"{key} is not a number: {params.get(key)!r}")


def operator_segment_cap(env: Mapping[str, str]) -> int:
    """SMS_MAX_OPERATOR_SEGMENTS, read in one place for the aggregator and Twilio's SMS alike."""
    try:
        return max(1, int(env.get("SMS_MAX_OPERATOR_SEGMENTS") or DEFAULT_MAX_OPERATOR_SEGMENTS))
    except ValueError:
        return DEFAULT_MAX_OPERATOR_SEGMENTS


class SmsAdapter(ChannelAdapter):
    """SMS through a Vonage- or Infobip-style aggregator on the shortcode."""

    name = "sms"
    # What DEFAULT_MAX_SEGMENTS GSM-7 parts hold; an instance built with another
    # cap carries its own value (see __init__).
    max_text_length = capacity(DEFAULT_MAX_SEGMENTS, GSM7)
    menu_style = "numbered"

    def __init__(
        self,
        signature_secret: str,
        *,
        profile: str = "vonage",
        shortcode: str = DEFAULT_SHORTCODE,
        api_base_url: str | None = None,
        api_key: str | None = None,
        api_secret: str | None = None,
        max_segments: int = DEFAULT_MAX_SEGMENTS,
        max_operator_segments: int = DEFAULT_MAX_OPERATOR_SEGMENTS,
        signature_method: str = "md5hash",
        signature_max_age: float = 0.0,
        public_base_url: str = DEFAULT_PUBLIC_BASE_URL,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if profile not in PROFILES:
            raise ValueError(f"SMS_PROFILE must be one of {', '.join(PROFILES)}, not {profile!r}")
        if signature_method not in VONAGE_METHODS:
            raise ValueError(f"SMS_SIGNATURE_METHOD must be one of {', '.join(VONAGE_METHODS)}")
        self.signature_secret = signature_secret
        self.profile = profile
        self.shortcode = shortcode
        self.api_base_url = (api_base_url or DEFAULT_API_BASE_URLS[profile]).rstrip("/")
        self.api_key = api_key or None
        self.api_secret = api_secret or None
        self.max_segments = max(1, max_segments)
        self.max_operator_segments = max(1, max_operator_segments)
        # The conversation engine reads this to size replies; it follows the cap.
        self.max_text_length = capacity(self.max_segments, GSM7)  # type: ignore[misc]
        self.signature_method = signature_method
        self.signature_max_age = signature_max_age
        self.public_base_url = public_base_url.rstrip("/")
        self.timeout = timeout
        self._session = http_session()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SmsAdapter | None:
        secret = env.get("SMS_SIGNATURE_SECRET", "").strip()
        if not secret:
            return None
        return cls(
            secret,
            profile=(env.get("SMS_PROFILE") or "vonage").strip().lower(),
            shortcode=(env.get("SMS_SHORTCODE") or DEFAULT_SHORTCODE).strip(),
            api_base_url=env.get("SMS_API_BASE_URL") or None,
            api_key=env.get("SMS_API_KEY") or None,
            api_secret=env.get("SMS_API_SECRET") or None,
            max_segments=int(env.get("SMS_MAX_SEGMENTS") or DEFAULT_MAX_SEGMENTS),
            max_operator_segments=operator_segment_cap(env),
            signature_method=(env.get("SMS_SIGNATURE_METHOD") or "md5hash").strip().lower(),
            signature_max_age=float(env.get("SMS_SIGNATURE_MAX_AGE") or 0),
            public_base_url=env.get("PUBLIC_BASE_URL") or DEFAULT_PUBLIC_BASE_URL,
            timeout=float(env.get("SMS_TIMEOUT") or DEFAULT_TIMEOUT),
        )

    # -- webhooks ---------------------------------------------------------------------
    @staticmethod
    def _json(request: WebhookRequest) -> Any:
        try:
            return load_json(request.body)
        except ValueError as exc:
            raise PayloadError(f"body is not valid JSON: {exc}") from exc

    def _vonage_params(self, request: WebhookRequest) -> dict[str, str]:
        """Vonage sends GET query, POST form or POST JSON, as the account is set up."""
        content_type = (request.header("Content-Type") or "").lower()
        if "json" in content_type or request.body.lstrip().startswith(b"{"):
            data = self._json(request)
            if not isinstance(data, dict):
                raise PayloadError("JSON body is not an object")
            return {str(k): _as_str(v) for k, v in data.items()}
        if request.method.upper() == "GET" or not (request.form or request.body):
            return request.query_dict()
        pairs = request.form or tuple(
            parse_qsl(request.body.decode("utf-8", errors="replace"), keep_blank_values=True)
        )
        params: dict[str, str] = {}
        for key, value in pairs:
            params.setdefault(key, value)
        return params

    def verify(self, request: WebhookRequest) -> None:
        if self.profile == "infobip":
            if not request.header(INFOBIP_HEADER):
                raise SignatureError(f"missing {INFOBIP_HEADER}")
            if not body_valid(request.body, self.signature_secret, request.header(INFOBIP_HEADER)):
                raise SignatureError(f"{INFOBIP_HEADER} does not match")
            return
        # An unreadable body cannot carry a sig: its PayloadError (400) says more than a 403.
        params = self._vonage_params(request)
        if not params.get("sig"):
            raise SignatureError("missing sig parameter")
        if not vonage_valid(params, self.signature_secret, self.signature_method):
            raise SignatureError("sig does not match")
        if self.signature_max_age > 0:
            sent_at = parse_epoch(params.get("timestamp"))
            if sent_at is None or abs(time.time() - sent_at.timestamp()) > self.signature_max_age:
                raise SignatureError("signed timestamp missing or too old")

    def parse(self, request: WebhookRequest) -> ParseResult:
        is_status = request.path.rstrip("/").endswith("/status")
        result = ParseResult(response=WebhookResponse(200, "", "text/plain; charset=utf-8"))
        if self.profile == "infobip":
            self._parse_infobip(request, is_status, result)
            return result
        params = self._vonage_params(request)
        if not params:
            raise PayloadError("no parameters")
        if is_status or ("status" in params and "text" not in params and "type" not in params):
            try:
                result.statuses.append(self._vonage_status(params))
            except _Ignored as exc:
                result.ignored.append(str(exc))
        else:
            result.messages.append(self._vonage_message(params))
        return result

    def _vonage_message(self, params: Mapping[str, str]) -> InboundMessage:
        msisdn = params.get("msisdn", "").strip()
        if not msisdn:
            raise PayloadError("inbound SMS without msisdn")
        message_id = params.get("messageId", "").strip()
        if not message_id:
            raise PayloadError("inbound SMS without messageId")
        kind, text = "text", clean_text(params.get("text"))
        if params.get("type") == "binary":
            kind, text = "unsupported", ""
        segment = None
        if params.get("concat", "").lower() in ("true", "1"):
            reference = params.get("concat-ref", "").strip()
            if not reference:
                raise PayloadError("concatenated part without concat-ref")
            total, number = _int(params, "concat-total"), _int(params, "concat-part")
            if not 1 <= total <= MAX_PARTS:
                raise PayloadError(f"concat-total {total} outside 1..{MAX_PARTS}")
            if not 1 <= number <= total:
                raise PayloadError(f"concat-part {number} outside 1..{total}")
            segment = Segment(reference=reference, total=total, number=number)
        to = params.get("to", "").strip()
        return InboundMessage(
            channel=self.name,
            provider_message_id=message_id,
            sender=phone_address(msisdn),
            text=text,
            kind=kind,
            recipient=f"sms:{to}" if to else None,
            timestamp=_parse_time(params.get("message-timestamp")) or parse_epoch(params.get("timestamp")),
            segment=segment,
            raw=dict(params),
        )

    def _vonage_status(self, params: Mapping[str, str]) -> StatusUpdate:
        message_id = params.get("messageId", "").strip()
        if not message_id:
            raise PayloadError("delivery receipt without messageId")
        word = params.get("status", "").strip().lower()
        if not word:
            raise PayloadError("delivery receipt without status")
        status = VONAGE_DLR_TABLE.get(word)
        if status is None:
            raise _Ignored(f"delivery status {word!r} carries no news")
        error_code = params.get("err-code", "").strip() or None
        if error_code == "0":
            error_code = None
        msisdn = params.get("msisdn", "").strip()
        return StatusUpdate(
            channel=self.name,
            provider_message_id=message_id,
            status=status,
            error_code=error_code,
            error_message=VONAGE_DLR_ERRORS.get(error_code or "") if error_code else None,
            timestamp=_parse_time(params.get("message-timestamp")) or _parse_time(params.get("scts")),
            recipient=phone_address(msisdn) if msisdn else None,
            raw=dict(params),
        )

    def _parse_infobip(self, request: WebhookRequest, is_status: bool, result: ParseResult) -> None:
        """Infobip batches results; a bad item is skipped (and reported) so its good
        neighbours are not lost to a retry loop. A batch with no usable item is a 400."""
        data = self._json(request)
        if not isinstance(data, dict) or not isinstance(data.get("results"), list):
            raise PayloadError("JSON body without a results list")
        for index, item in enumerate(data["results"]):
            if not isinstance(item, dict):
                result.ignored.append(f"results[{index}] is not an object")
                continue
            looks_like_status = isinstance(item.get("status"), dict) and "text" not in item
            try:
                if is_status or looks_like_status:
                    result.statuses.append(self._infobip_status(item))
                else:
                    result.messages.append(self._infobip_message(item))
            except PayloadError as exc:
                result.ignored.append(f"results[{index}]: {exc}")
            except _Ignored as exc:
                result.ignored.append(f"results[{index}]: {exc}")
        if not result.messages and not result.statuses and result.ignored:
            raise PayloadError("; ".join(result.ignored))

    def _infobip_message(self, item: Mapping[str, Any]) -> InboundMessage:
        message_id = _as_str(item.get("messageId")).strip()
        sender = _as_str(item.get("from")).strip()
        if not message_id:
            raise PayloadError("inbound SMS without messageId")
        if not sender:
            raise PayloadError("inbound SMS without from")
        to = _as_str(item.get("to")).strip()
        return InboundMessage(
            channel=self.name,
            provider_message_id=message_id,
            sender=phone_address(sender),
            text=clean_text(_as_str(item.get("text"))),
            recipient=f"sms:{to}" if to else None,
            timestamp=_parse_time(item.get("receivedAt")),
            raw=dict(item),
        )

    def _infobip_status(self, item: Mapping[str, Any]) -> StatusUpdate:
        message_id = _as_str(item.get("messageId")).strip()
        if not message_id:
            raise PayloadError("delivery report without messageId")
        state = item.get("status")
        if not isinstance(state, dict):
            raise PayloadError("delivery report without status")
        name = _as_str(state.get("name")).upper()
        group = _as_str(state.get("groupName")).upper()
        status = "queued" if name == "PENDING_ACCEPTED" else INFOBIP_STATUS_TABLE.get(group)
        if status is None:
            raise _Ignored(f"delivery status group {group!r} carries no news")
        error = item.get("error") if isinstance(item.get("error"), dict) else {}
        error_code = None
        error_message = None
        if error and _as_str(error.get("id")) not in ("", "0"):
            error_code = _as_str(error.get("name") or error.get("id"))
            error_message = _as_str(error.get("description")) or None
        to = _as_str(item.get("to")).strip()
        return StatusUpdate(
            channel=self.name,
            provider_message_id=message_id,
            status=status,
            error_code=error_code,
            error_message=error_message,
            timestamp=_parse_time(item.get("doneAt")) or _parse_time(item.get("sentAt")),
            recipient=phone_address(to) if to else None,
            raw=dict(item),
        )

    # -- sending ----------------------------------------------------------------------
    def plan(self, text: str, author: str = "bot") -> SegmentPlan:
        """The text as it will be sent: encoding, parts, and cut to its cap (SMS_MAX_SEGMENTS for the
        dialogue, SMS_MAX_OPERATOR_SEGMENTS for an operator's reply). A cut is logged, never silent."""
        cap = self.max_operator_segments if author == "operator" else self.max_segments
        plan = fit_segments(text, cap)
        if plan.truncated:
            log.warning(
                "SMS text cut to %d segments (%s, %d characters before the cut)", cap, author, len(text)
            )
        return plan

    def send(self, message: OutboundMessage) -> SendResult:
        if not message.to.startswith("tel:"):
            raise SendError(
                "SMS reaches phone numbers (tel:) only", retryable=False, code="unsupported_address"
            )
        number = normalize_phone(address_value(message.to))
        if number is None:
            raise SendError("not a phone number", retryable=False, code="invalid_number")
        if not self.api_key:
            raise SendError("SMS_API_KEY is not set", retryable=False, code="not_configured")
        plan = self.plan(message.text, message.author)
        digits = number.lstrip("+")
        if self.profile == "infobip":
            return self._send_infobip(digits, plan, message)
        return self._send_vonage(digits, plan, message)

    def _post(self, url: str, **kwargs: Any) -> requests.Response:
        try:
            response = self._session.post(url, timeout=self.timeout, **kwargs)
        except requests.Timeout:
            raise SendError("the aggregator did not answer in time", retryable=True, code="timeout")
        except requests.RequestException as exc:
            raise SendError(
                f"cannot reach the aggregator: {type(exc).__name__}", retryable=True, code="connection"
            )
        status = response.status_code
        if status == 429:
            raise SendError(
                "the aggregator throttles us",
                retryable=True,
                code="429",
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            )
        if status >= 500:
            raise SendError(
                f"aggregator server error {status}",
                retryable=True,
                code=str(status),
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            )
        if status >= 400:
            raise SendError(
                f"the aggregator refused the request ({status}){_infobip_reason(response)}",
                retryable=False,
                code=_infobip_code(response) or str(status),
            )
        return response

    @staticmethod
    def _body(response: requests.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            raise SendError(
                "the aggregator answered something that is not JSON", retryable=False, code="bad_answer"
            )
        if not isinstance(data, dict):
            raise SendError("the aggregator answered an unexpected shape", retryable=False, code="bad_answer")
        return data

    def _send_vonage(self, digits: str, plan: SegmentPlan, message: OutboundMessage) -> SendResult:
        form: dict[str, str] = {
            "api_key": self.api_key or "",
            "api_secret": self.api_secret or "",
            "from": self.shortcode,
            "to": digits,
            "text": plan.text,
            "type": "unicode" if plan.encoding == UCS2 else "text",
            "status-report-req": "1",
            "callback": self.public_base_url + STATUS_PATH,
        }
        if message.reference:
            form["client-ref"] = message.reference[:40]
        data = self._body(self._post(f"{self.api_base_url}/sms/json", data=form))
        parts = data.get("messages")
        if not isinstance(parts, list) or not parts:
            raise SendError("the aggregator answered without messages", retryable=False, code="bad_answer")
        accepted = [p for p in parts if isinstance(p, dict) and _as_str(p.get("status")) == "0"]
        failed = [p for p in parts if not (isinstance(p, dict) and _as_str(p.get("status")) == "0")]
        if failed:
            first = failed[0] if isinstance(failed[0], dict) else {}
            code = _as_str(first.get("status"))
            rule = VONAGE_SEND_TABLE.get(code, SendRule(f"aggregator status {code}"))
            # Once a part went out, a retry would send the text twice: never retry then.
            retryable = rule.retryable and not accepted
            text = _as_str(first.get("error-text"))
            raise SendError(
                rule.reason + (f": {text}" if text else ""),
                retryable=retryable,
                code=code,
                unreachable=rule.unreachable,
            )
        ids = [_as_str(p.get("message-id")) for p in accepted]
        return SendResult(
            provider_message_id=ids[0], status="sent", segments=len(ids), extra_ids=tuple(ids[1:])
        )

    def _send_infobip(self, digits: str, plan: SegmentPlan, message: OutboundMessage) -> SendResult:
        item: dict[str, Any] = {
            "from": self.shortcode,
            "destinations": [{"to": digits}],
            "text": plan.text,
            "notifyUrl": self.public_base_url + STATUS_PATH,
            "notifyContentType": "application/json",
        }
        if message.reference:
            item["callbackData"] = message.reference
        response = self._post(
            f"{self.api_base_url}/sms/2/text/advanced",
            json={"messages": [item]},
            headers={"Authorization": f"App {self.api_key}", "Accept": "application/json"},
        )
        data = self._body(response)
        parts = data.get("messages")
        if not isinstance(parts, list) or not parts or not isinstance(parts[0], dict):
            raise SendError("the aggregator answered without messages", retryable=False, code="bad_answer")
        first = parts[0]
        found = first.get("status")
        state: dict[str, Any] = found if isinstance(found, dict) else {}
        group = _as_str(state.get("groupName")).upper()
        name = _as_str(state.get("name")).upper()
        if group in ("REJECTED", "UNDELIVERABLE"):
            raise SendError(
                _as_str(state.get("description")) or name or group,
                retryable=False,
                code=name or group,
                unreachable=name in INFOBIP_UNREACHABLE,
            )
        return SendResult(
            provider_message_id=_as_str(first.get("messageId")),
            status=INFOBIP_STATUS_TABLE.get(group, "queued") if name != "PENDING_ACCEPTED" else "queued",
            segments=plan.count,
        )

    def fetch_media(self, attachment: Attachment) -> tuple[bytes, str | None]:
        """SMS carries no media; nothing to fetch."""
        raise SendError("SMS messages have no media", retryable=False, code="no_media")

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
        """A signed inbound SMS in the configured dialect. SMS has no photos or pins:
        ``photo_url`` and ``location`` are ignored, as a feature phone would."""
        number = normalize_phone(address_value(sender)) or address_value(sender)
        digits = number.lstrip("+")
        now = datetime.now(UTC)
        if self.profile == "infobip":
            item = {
                "messageId": message_id or uuid.uuid4().hex,
                "from": digits,
                "to": self.shortcode,
                "text": text,
                "cleanText": text,
                "keyword": (text.split() or [""])[0].upper(),
                "receivedAt": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000",
                "smsCount": 1,
                "price": {"pricePerMessage": 0, "currency": "IDR"},
                "callbackData": None,
            }
            body = json.dumps({"results": [item], "messageCount": 1, "pendingMessageCount": 0}).encode()
            headers = {
                "Content-Type": "application/json",
                INFOBIP_HEADER: body_signature(body, self.signature_secret),
            }
            return SimulatedRequest("POST", WEBHOOK_PATH, headers, body)
        params = {
            "msisdn": digits,
            "to": self.shortcode,
            "messageId": message_id or uuid.uuid4().hex[:16].upper(),
            "text": text,
            "type": "text" if is_gsm7(text) else "unicode",
            "keyword": (text.split() or [""])[0].upper(),
            "api-key": self.api_key or "loopback",
            "message-timestamp": now.strftime("%Y-%m-%d %H:%M:%S"),
            "timestamp": str(int(now.timestamp())),
            "nonce": str(uuid.uuid4()),
        }
        params["sig"] = vonage_signature(params, self.signature_secret, self.signature_method)
        body = json.dumps(params).encode()
        return SimulatedRequest("POST", WEBHOOK_PATH, {"Content-Type": "application/json"}, body)

    def close(self) -> None:
        self._session.close()


class _Ignored(Exception):
    """A receipt we understood but that carries no delivery news."""


def _infobip_error(response: requests.Response) -> Mapping[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    error = data.get("requestError", {})
    service = error.get("serviceException") if isinstance(error, dict) else None
    return service if isinstance(service, dict) else {}


def _infobip_code(response: requests.Response) -> str | None:
    return _as_str(_infobip_error(response).get("messageId")) or None


def _infobip_reason(response: requests.Response) -> str:
    text = _as_str(_infobip_error(response).get("text"))
    return f": {text}" if text else ""
