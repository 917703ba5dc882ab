"""WhatsApp Cloud API (Meta) adapter: signed webhooks in, Graph API messages out.

Meta calls ``POST /webhooks/whatsapp`` with a JSON body signed by
``X-Hub-Signature-256`` (HMAC-SHA256 of the raw bytes with the app secret) and
retries any non-2xx answer for up to seven days. That retry policy shapes the
parser: a body that is valid JSON from Meta but carries something we do not
understand is answered 200 and recorded as ignored, so that one odd change does
not block the webhook for a week; only bytes that are not JSON at all, or not a
WhatsApp Business Account notification, are refused with a PayloadError.

Senders are ``whatsapp:+<E.164>`` when Meta gives a phone number, and
``whatsapp:<BSUID>`` (business-scoped user id, e.g. ``ID.1234567890``) for users
who adopted a username and hide their number. Sends go to the Graph API through
one reused ``requests.Session``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import requests

from adapters.base import (
    AdapterError,
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
    Template,
    WebhookRequest,
    WebhookResponse,
)
from adapters.common import (
    address_value,
    clean_text,
    coordinates,
    http_session,
    load_json,
    normalize_phone,
    parse_epoch,
    retry_after_seconds,
    split_text,
)
from adapters.whatsapp.errors import rule_for

CHANNEL = "whatsapp"

DEFAULT_API_BASE_URL = "https://graph.facebook.com/v21.0"
"""Graph API base, version included: Meta deprecates versions about two years after release."""

DEFAULT_TEMPLATE_NAME = "lapor_update"
"""The approved template sent when the 24-hour window is closed; deployers register it with Meta."""

DEFAULT_TEMPLATE_LANGUAGE = "id"

DEFAULT_TIMEOUT = 10.0
"""Seconds to wait for the Graph API; a send job retries on timeout, so a short wait is cheaper."""

MAX_TEXT = 4096  # text message body
MAX_INTERACTIVE_BODY = 1024  # body of reply-button and list messages
MAX_CAPTION = 1024  # image caption
MAX_BUTTON_TITLE = 20  # reply button title
MAX_ROW_TITLE = 24  # list row title
MAX_ROW_DESCRIPTION = 72  # list row description
MAX_LIST_BUTTON = 20  # the label of the button that opens a list
MAX_REPLY_BUTTONS = 3
MAX_LIST_ROWS = 10
MAX_ID = 200  # reply button id / list row id (Meta allows 256; we keep a margin)

# Meta's status words -> our delivery statuses (adapters.base.DELIVERY_STATUSES).
STATUS_TABLE: dict[str, str] = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "played": "read",  # voice message played: at least read
    "failed": "failed",
}

MEDIA_KINDS = ("image", "audio", "video", "document", "sticker")

# A BSUID: ISO country code, a dot, then an alphanumeric id (optionally "ENT." for a parent id).
_BSUID = re.compile(r"^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$")
# A phone number as Meta writes ``from`` and ``wa_id``: digits only (a "+" tolerated).
_PHONE_ID = re.compile(r"\+?\d{6,20}")
# A Unix timestamp in seconds, as Meta sends ``timestamp`` (a string of digits).
_EPOCH = re.compile(r"\d{1,12}")


def _clip(text: str, limit: int) -> str:
    """Shorten a label to ``limit`` characters with an ellipsis, because Meta refuses longer ones."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class WhatsAppCloudAdapter(ChannelAdapter):
    """The WhatsApp Cloud API channel (``whatsapp``)."""

    name: ClassVar[str] = CHANNEL
    max_text_length: ClassVar[int] = MAX_TEXT
    menu_style: ClassVar[str] = "list"

    def __init__(
        self,
        *,
        access_token: str,
        phone_number_id: str,
        app_secret: str | None = None,
        verify_token: str | None = None,
        api_base_url: str = DEFAULT_API_BASE_URL,
        template_name: str = DEFAULT_TEMPLATE_NAME,
        template_language: str = DEFAULT_TEMPLATE_LANGUAGE,
        public_base_url: str = "http://localhost:5000",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.access_token = access_token
        self.phone_number_id = phone_number_id
        self.app_secret = app_secret or None
        self.verify_token = verify_token or None
        self.api_base_url = api_base_url.rstrip("/")
        self.template_name = template_name
        self.template_language = template_language
        self.public_base_url = public_base_url.rstrip("/")
        self.timeout = timeout
        self._session: requests.Session | None = None

    # -- construction ------------------------------------------------------------
    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WhatsAppCloudAdapter | None:
        """Build from environment-style settings; None unless token and phone number id are set."""
        token = (env.get("WHATSAPP_ACCESS_TOKEN") or "").strip()
        phone_number_id = (env.get("WHATSAPP_PHONE_NUMBER_ID") or "").strip()
        if not token or not phone_number_id:
            return None
        try:
            timeout = float(env.get("WHATSAPP_TIMEOUT") or DEFAULT_TIMEOUT)
        except ValueError:
            timeout = DEFAULT_TIMEOUT
        return cls(
            access_token=token,
            phone_number_id=phone_number_id,
            app_secret=(env.get("WHATSAPP_APP_SECRET") or "").strip() or None,
            verify_token=(env.get("WHATSAPP_VERIFY_TOKEN") or "").strip() or None,
            api_base_url=env.get("WHATSAPP_API_BASE_URL") or DEFAULT_API_BASE_URL,
            template_name=env.get("WHATSAPP_TEMPLATE_NAME") or DEFAULT_TEMPLATE_NAME,
            template_language=env.get("WHATSAPP_TEMPLATE_LANGUAGE") or DEFAULT_TEMPLATE_LANGUAGE,
            public_base_url=env.get("PUBLIC_BASE_URL") or "http://localhost:5000",
            timeout=timeout,
        )

    # -- webhook: handshake and signature -----------------------------------------
    def handshake(self, request: WebhookRequest) -> WebhookResponse:
        """Answer Meta's subscription check: echo ``hub.challenge`` when the token matches."""
        query = request.query_dict()
        mode = query.get("hub.mode", "")
        token = query.get("hub.verify_token", "")
        challenge = query.get("hub.challenge", "")
        if not self.verify_token:
            raise SignatureError("WHATSAPP_VERIFY_TOKEN is not set")
        if mode != "subscribe" or not hmac.compare_digest(token.encode(), self.verify_token.encode()):
            raise SignatureError("verification token mismatch")
        return WebhookResponse(200, challenge)

    def signature(self, body: bytes) -> str:
        """The ``X-Hub-Signature-256`` value Meta sends for ``body``."""
        if not self.app_secret:
            raise SignatureError("WHATSAPP_APP_SECRET is not set: unsigned webhooks are never accepted")
        digest = hmac.new(self.app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
        return f"sha256={digest}"

    def verify(self, request: WebhookRequest) -> None:
        """Refuse a POST unless its raw body carries Meta's HMAC-SHA256 signature."""
        expected = self.signature(request.body)  # raises when the secret is unset
        given = (request.header("X-Hub-Signature-256") or "").strip()
        if not given:
            raise SignatureError("missing X-Hub-Signature-256")
        if not hmac.compare_digest(given.lower().encode("utf-8"), expected.encode("utf-8")):
            raise SignatureError("X-Hub-Signature-256 does not match the body")

    # -- webhook: parse ------------------------------------------------------------
    def parse(self, request: WebhookRequest) -> ParseResult:
        """Normalize every message and status of a notification; see the module docstring."""
        try:
            data = load_json(request.body)
        except ValueError as exc:
            raise PayloadError(f"body is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise PayloadError("body is not a JSON object")
        if data.get("object") != "whatsapp_business_account":
            raise PayloadError(f"object is {data.get('object')!r}, not 'whatsapp_business_account'")
        result = ParseResult()
        entries = data.get("entry")
        if not isinstance(entries, list):
            result.ignored.append("no entry list")
            return result
        if not entries:
            result.ignored.append("empty entry list")
        for entry_index, entry in enumerate(entries):
            if not isinstance(entry, dict):
                result.ignored.append(f"entry[{entry_index}] is not an object")
                continue
            changes = entry.get("changes")
            if not isinstance(changes, list) or not changes:
                result.ignored.append(f"entry[{entry_index}] has no changes")
                continue
            for change_index, change in enumerate(changes):
                where = f"entry[{entry_index}].changes[{change_index}]"
                self._parse_change(change, entry, where, result)
        return result

    def _parse_change(self, change: Any, entry: Mapping[str, Any], where: str, result: ParseResult) -> None:
        if not isinstance(change, dict):
            result.ignored.append(f"{where} is not an object")
            return
        field = change.get("field")
        if field != "messages":
            result.ignored.append(f"{where}: field {field!r} is not handled")
            return
        value = change.get("value")
        if not isinstance(value, dict):
            result.ignored.append(f"{where}: value is not an object")
            return
        metadata = _obj(value.get("metadata"))
        phone_number_id = str(metadata.get("phone_number_id") or "")
        if phone_number_id and phone_number_id != self.phone_number_id:
            # Another number of the same business account: we must not answer from ours.
            result.ignored.append(f"{where}: for phone number id {phone_number_id}, not ours")
            return
        recipient = None
        display = str(metadata.get("display_phone_number") or "")
        if display:
            number = normalize_phone(display)
            recipient = f"whatsapp:{number}" if number else None
        contacts = [c for c in value.get("contacts") or [] if isinstance(c, dict)]
        messages = value.get("messages") or []
        statuses = value.get("statuses") or []
        if not messages and not statuses:
            result.ignored.append(f"{where}: neither messages nor statuses")
        for index, message in enumerate(messages if isinstance(messages, list) else []):
            inbound = self._parse_message(message, contacts, metadata, entry, recipient)
            if isinstance(inbound, str):
                result.ignored.append(f"{where}.messages[{index}]: {inbound}")
            else:
                result.messages.append(inbound)
        for index, status in enumerate(statuses if isinstance(statuses, list) else []):
            update = self._parse_status(status, metadata)
            if isinstance(update, str):
                result.ignored.append(f"{where}.statuses[{index}]: {update}")
            else:
                result.statuses.append(update)

    @staticmethod
    def _address(phone: str | None, user_id: str | None) -> str | None:
        """``whatsapp:+E164`` from a phone number, else ``whatsapp:<BSUID>``; None when neither.

        None too when the id given is neither digits nor a business-scoped user id: such a
        sender cannot be answered, and a contact must never be keyed on garbage.
        """
        phone, user_id = (phone or "").strip(), (user_id or "").strip()
        if phone:
            if _PHONE_ID.fullmatch(phone):
                number = normalize_phone(phone)
                return f"whatsapp:{number or phone}"
            # Meta has started to put business-scoped ids where numbers were.
            return f"whatsapp:{phone}" if _BSUID.match(phone) else None
        if user_id:
            return f"whatsapp:{user_id}" if _BSUID.match(user_id) else None
        return None

    def _sender(
        self, message: Mapping[str, Any], contacts: list[dict[str, Any]]
    ) -> tuple[str, dict[str, Any] | None] | str:
        """The sender's address and contact entry, or the reason the message is skipped."""
        phone = _id_text(message.get("from"))
        user_id = _id_text(message.get("from_user_id") or message.get("user_id"))
        contact = next(
            (
                c
                for c in contacts
                if (phone and _id_text(c.get("wa_id")) == phone)
                or (user_id and _id_text(c.get("user_id")) == user_id)
            ),
            contacts[0] if len(contacts) == 1 else None,
        )
        if phone is None and user_id is None and contact is not None:
            phone, user_id = _id_text(contact.get("wa_id")), _id_text(contact.get("user_id"))
        if phone is None and user_id is None:
            return "message without sender (no from, from_user_id or contact)"
        sender = self._address(phone, user_id)
        if sender is None:
            return "sender id is neither a phone number nor a business-scoped user id"
        return sender, contact

    def _parse_message(
        self,
        message: Any,
        contacts: list[dict[str, Any]],
        metadata: Mapping[str, Any],
        entry: Mapping[str, Any],
        recipient: str | None,
    ) -> InboundMessage | str:
        """One message, or the reason it was skipped.

        The envelope (id, group, sender, timestamp) is checked here; what the message says is
        read by the parser `CONTENT_PARSERS` names for its ``type``.
        """
        if not isinstance(message, dict):
            return "not an object"
        message_id = message.get("id")
        if not message_id:
            return "message without id"
        if message.get("group_id"):
            # Complaints carry personal data: the number talks to citizens one to one only.
            return "a group message is not handled"
        found = self._sender(message, contacts)
        if isinstance(found, str):
            return found
        sender, contact = found
        stamp = message.get("timestamp")
        if stamp is not None and (isinstance(stamp, bool) or not _EPOCH.fullmatch(str(stamp))):
            return "timestamp is not a number"
        kind = str(message.get("type") or "")
        content = CONTENT_PARSERS.get(kind, _unsupported)(message, _obj(message.get(kind)))
        if isinstance(content, str):
            return content
        profile = _obj((contact or {}).get("profile"))
        return InboundMessage(
            channel=CHANNEL,
            provider_message_id=str(message_id),
            sender=sender,
            recipient=recipient,
            sender_name=clean_text(profile.get("name") or profile.get("username") or "") or None,
            timestamp=parse_epoch(stamp),
            raw={
                "message": message,
                "contact": contact,
                "metadata": dict(metadata),
                "entry_id": entry.get("id"),
            },
            **content,
        )

    @staticmethod
    def _parse_status(status: Any, metadata: Mapping[str, Any]) -> StatusUpdate | str:
        """One delivery receipt, or the reason it was skipped."""
        if not isinstance(status, dict):
            return "not an object"
        if not status.get("id"):
            return "status without id"
        word = str(status.get("status") or "")
        mapped = STATUS_TABLE.get(word)
        if mapped is None:
            return f"unknown status {word!r}"
        error_code = error_message = None
        errors = status.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            error_code = str(first["code"]) if first.get("code") is not None else None
            details = _error_details(first)
            pieces = [first.get("title"), first.get("message"), details]
            seen: list[str] = []
            for piece in pieces:
                if piece and str(piece) not in seen:
                    seen.append(str(piece))
            error_message = ": ".join(seen) or None
        recipient_id = status.get("recipient_id")
        recipient_user_id = status.get("recipient_user_id")
        recipient = WhatsAppCloudAdapter._address(
            str(recipient_id) if recipient_id else None,
            str(recipient_user_id) if recipient_user_id else None,
        )
        return StatusUpdate(
            channel=CHANNEL,
            provider_message_id=str(status["id"]),
            status=mapped,
            error_code=error_code,
            error_message=error_message,
            timestamp=parse_epoch(status.get("timestamp")),
            recipient=recipient,
            raw={"status": status, "metadata": dict(metadata)},
        )

    # -- send --------------------------------------------------------------------------
    @property
    def session(self) -> requests.Session:
        """One HTTP session per adapter, so that connections to Graph are reused between sends."""
        if self._session is None:
            session = http_session()
            session.headers.update(
                {
                    "Authorization": f"Bearer {self.access_token}",
                    "User-Agent": "lapor-gateway",
                }
            )
            self._session = session
        return self._session

    def _recipient_fields(self, to: str) -> dict[str, str]:
        """``to`` (digits of the E.164 number) or ``recipient`` (a BSUID), as Meta's send API wants."""
        value = address_value(to).strip()
        if _BSUID.match(value):
            return {"recipient": value}
        number = normalize_phone(value)
        if number is None:
            raise SendError(f"not a WhatsApp address: {to.split(':', 1)[0]}:…", retryable=False)
        return {"to": number.lstrip("+")}

    def window_template(self, text: str) -> Template:
        """The configured template carrying ``text`` as its one body parameter.

        For the gateway after a ``window_closed`` SendError. Meta refuses template
        parameters with newlines, tabs or more than four spaces in a row, and longer
        than 1024 characters, so the text is flattened and clipped.
        """
        flat = " ".join(text.split())
        return Template(self.template_name, self.template_language, (_clip(flat, 1024),))

    def send(self, message: OutboundMessage) -> SendResult:
        """Send text, interactive buttons/list, a template or an image; split texts over 4096."""
        target = self._recipient_fields(message.to)
        payloads: list[dict[str, Any]] = []
        if message.template is not None:
            payloads.append(self._template_payload(message.template))
        else:
            text = message.text or ""
            if message.media_url:
                caption = text if len(text) <= MAX_CAPTION else ""
                image: dict[str, Any] = {"link": message.media_url}
                if caption:
                    image["caption"] = caption
                payloads.append({"type": "image", "image": image})
                text = "" if caption else text
            if text or (message.buttons and not payloads):
                parts = split_text(text, MAX_TEXT) if text else [""]
                if message.buttons:
                    last = parts.pop()
                    tail = split_text(last, MAX_INTERACTIVE_BODY) if last else [""]
                    parts.extend(tail[:-1])
                    payloads.extend(self._text_payload(part) for part in parts)
                    payloads.append(self._interactive_payload(tail[-1], message))
                else:
                    payloads.extend(self._text_payload(part) for part in parts)
        if not payloads:
            raise SendError("nothing to send: empty text and no template or media", retryable=False)
        ids: list[str] = []
        for index, payload in enumerate(payloads):
            body = {"messaging_product": "whatsapp", "recipient_type": "individual", **target, **payload}
            if message.reference:
                # Echoed in status webhooks: lets an operator trace a receipt to our message.
                suffix = f":{index}" if len(payloads) > 1 else ""
                body["biz_opaque_callback_data"] = f"{message.reference}{suffix}"[:512]
            # When a later part fails the error propagates: the job retries the whole message,
            # which may repeat earlier parts; a lost part would be worse than a repeated one.
            ids.append(self._post_message(body))
        return SendResult(provider_message_id=ids[0], segments=len(ids), extra_ids=tuple(ids[1:]))

    @staticmethod
    def _text_payload(text: str) -> dict[str, Any]:
        return {"type": "text", "text": {"preview_url": False, "body": text}}

    def _template_payload(self, template: Template) -> dict[str, Any]:
        spec: dict[str, Any] = {"name": template.name, "language": {"code": template.language}}
        if template.parameters:
            spec["components"] = [
                {
                    "type": "body",
                    "parameters": [{"type": "text", "text": str(p)} for p in template.parameters],
                }
            ]
        return {"type": "template", "template": spec}

    @staticmethod
    def _interactive_payload(text: str, message: OutboundMessage) -> dict[str, Any]:
        """Reply buttons for up to three choices, a one-section list for four to ten."""
        buttons = message.buttons
        body_text = text or "\u2063"  # Meta requires a body; an invisible separator fills it
        if len(buttons) <= MAX_REPLY_BUTTONS:
            return {
                "type": "interactive",
                "interactive": {
                    "type": "button",
                    "body": {"text": body_text},
                    "action": {
                        "buttons": [
                            {
                                "type": "reply",
                                "reply": {
                                    "id": b.payload[:MAX_ID],
                                    "title": _clip(b.title, MAX_BUTTON_TITLE),
                                },
                            }
                            for b in buttons
                        ]
                    },
                },
            }
        if len(buttons) > MAX_LIST_ROWS:
            raise SendError(f"{len(buttons)} choices: a WhatsApp list holds at most 10", retryable=False)
        rows = []
        for b in buttons:
            row = {"id": b.payload[:MAX_ID], "title": _clip(b.title, MAX_ROW_TITLE)}
            if b.description:
                row["description"] = _clip(b.description, MAX_ROW_DESCRIPTION)
            rows.append(row)
        label = _clip(message.menu_title or "Pilih", MAX_LIST_BUTTON)
        return {
            "type": "interactive",
            "interactive": {
                "type": "list",
                "body": {"text": body_text},
                "action": {"button": label, "sections": [{"title": label[:24], "rows": rows}]},
            },
        }

    def _post_message(self, body: dict[str, Any]) -> str:
        url = f"{self.api_base_url}/{self.phone_number_id}/messages"
        try:
            response = self.session.post(url, json=body, timeout=self.timeout)
        except requests.Timeout as exc:
            raise SendError(f"Graph API timed out: {exc.__class__.__name__}", retryable=True) from exc
        except requests.RequestException as exc:
            raise SendError(f"Graph API unreachable: {exc.__class__.__name__}", retryable=True) from exc
        data = _json_or_none(response)
        if response.status_code >= 400 or (isinstance(data, dict) and "error" in data):
            raise _graph_error(response, data)
        messages = data.get("messages") if isinstance(data, dict) else None
        if not messages or not isinstance(messages[0], dict) or not messages[0].get("id"):
            # Accepted or not? Unknown; retrying could send twice, so it is final.
            raise SendError("Graph API answered without a message id", retryable=False)
        return str(messages[0]["id"])

    # -- media -------------------------------------------------------------------------------
    def fetch_media(self, attachment: Attachment) -> tuple[bytes, str | None]:
        """Resolve a media id to its short-lived URL, then download it with the same token."""
        if not attachment.media_id:
            raise SendError("attachment has no media id", retryable=False)
        try:
            meta = self.session.get(f"{self.api_base_url}/{attachment.media_id}", timeout=self.timeout)
            info = _json_or_none(meta)
            if meta.status_code >= 400 or not isinstance(info, dict) or not info.get("url"):
                raise _graph_error(meta, info)
            download = self.session.get(str(info["url"]), timeout=self.timeout)
        except requests.Timeout as exc:
            raise SendError("media download timed out", retryable=True) from exc
        except requests.RequestException as exc:
            raise SendError(f"media download failed: {exc.__class__.__name__}", retryable=True) from exc
        if download.status_code >= 400:
            raise _graph_error(download, _json_or_none(download))
        content_type = info.get("mime_type") or download.headers.get("Content-Type")
        return download.content, content_type or attachment.content_type

    # -- simulate -------------------------------------------------------------------------------
    def simulate(
        self,
        sender: str,
        text: str,
        *,
        photo_url: str | None = None,
        location: tuple[float, float] | None = None,
        message_id: str | None = None,
    ) -> SimulatedRequest:
        """A signed notification exactly like Meta's for a text, image or location message."""
        value = address_value(sender).strip()
        if _BSUID.match(value):
            identity: dict[str, str] = {"from_user_id": value}
            contact: dict[str, Any] = {"profile": {"name": "Warga Simulasi"}, "user_id": value}
        else:
            number = normalize_phone(value)
            if number is None:
                raise AdapterError("simulate needs a phone number (+62...) or a WhatsApp BSUID")
            identity = {"from": number.lstrip("+")}
            contact = {"profile": {"name": "Warga Simulasi"}, "wa_id": number.lstrip("+")}
        now = str(int(time.time()))
        wamid = message_id or "wamid." + base64.b64encode(os.urandom(18)).decode("ascii")
        message: dict[str, Any] = {**identity, "id": wamid, "timestamp": now}
        if photo_url:
            media_id = str(int(hashlib.sha256(photo_url.encode()).hexdigest()[:15], 16))
            image: dict[str, Any] = {
                "mime_type": "image/jpeg",
                "sha256": hashlib.sha256(photo_url.encode()).hexdigest(),
                "id": media_id,
            }
            if text:
                image["caption"] = text
            message.update(type="image", image=image)
        elif location is not None:
            message.update(type="location", location={"latitude": location[0], "longitude": location[1]})
            if text:
                message["location"]["name"] = text
        else:
            message.update(type="text", text={"body": text})
        body = {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "0",
                    "changes": [
                        {
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": "6281100001708",
                                    "phone_number_id": self.phone_number_id,
                                },
                                "contacts": [contact],
                                "messages": [message],
                            },
                            "field": "messages",
                        }
                    ],
                }
            ],
        }
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return SimulatedRequest(
            method="POST",
            path="/webhooks/whatsapp",
            headers={"Content-Type": "application/json", "X-Hub-Signature-256": self.signature(raw)},
            body=raw,
        )

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


# -- what a message says, one small parser per Meta message type --------------------------------
# Each takes the message and its type's object (``message[type]``, {} when absent) and returns the
# content fields of the InboundMessage, or the reason the message is skipped (recorded as ignored).
Content = dict[str, Any] | str
ContentParser = Callable[[Mapping[str, Any], Mapping[str, Any]], Content]


def _text(message: Mapping[str, Any], body: Mapping[str, Any]) -> Content:
    text = clean_text(body.get("body"))
    if not text.strip():
        return "text message without text"
    return {"kind": "text", "text": text}


def _media(message: Mapping[str, Any], body: Mapping[str, Any]) -> Content:
    """image, audio (a voice note when ``voice`` is true), video, document, sticker."""
    kind = str(message.get("type"))
    attachment_kind = "voice" if kind == "audio" and body.get("voice") else kind
    caption = clean_text(body.get("caption"))
    attachment = Attachment(
        kind=attachment_kind,
        content_type=body.get("mime_type"),
        media_id=str(body["id"]) if body.get("id") else None,
        filename=body.get("filename"),
        caption=caption or None,
        url=body.get("url") or None,
    )
    return {"kind": attachment_kind, "text": caption, "attachments": (attachment,)}


def _location(message: Mapping[str, Any], body: Mapping[str, Any]) -> Content:
    place = coordinates(body.get("latitude"), body.get("longitude"))
    if place is None:
        return "location without valid latitude/longitude"
    location = Location(
        latitude=place[0],
        longitude=place[1],
        name=clean_text(body.get("name")) or None,
        address=clean_text(body.get("address")) or None,
    )
    return {"kind": "location", "location": location, "text": location.name or ""}


def _contacts(message: Mapping[str, Any], body: Mapping[str, Any]) -> Content:
    """Shared contact cards as text, one "Name: phones" line each (third parties' numbers: the
    stored text is private to the ticket's operators; public surfaces redact numbers)."""
    summary = _contacts_summary(message.get("contacts"))
    if not summary:
        return "contacts message without a contact card"
    return {"kind": "contacts", "text": summary}


def _button(message: Mapping[str, Any], body: Mapping[str, Any]) -> Content:
    """A template's quick-reply button."""
    return {
        "kind": "button",
        "text": clean_text(body.get("text")),
        "button_payload": str(body.get("payload") or body.get("text") or ""),
    }


def _choice(reply: Mapping[str, Any]) -> Content:
    """A reply button or list row the citizen chose."""
    return {
        "kind": "button",
        "text": clean_text(reply.get("title")),
        "button_payload": str(reply.get("id") or ""),
    }


def _form_reply(reply: Mapping[str, Any]) -> Content:
    """A WhatsApp Flow or address form sent back (``nfm_reply``): its answers, one per line."""
    raw = reply.get("response_json")
    try:
        answers = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError:
        answers = raw
    lines = _answer_lines(answers) if isinstance(answers, dict) else [clean_text(str(answers or ""))]
    text = "\n".join(line for line in lines if line.strip())
    if not text:
        # No answers: the body is all there is ("Sent" for a flow, the address for an address form).
        text = clean_text(reply.get("body"))
    if not text.strip():
        return "form reply without answers"
    return {"kind": "text", "text": text}


def _answer_lines(answers: Mapping[str, Any]) -> list[str]:
    """``key: value`` per answer, nested objects flattened, lists joined; ``flow_token`` (ours,
    not the citizen's words) and empty answers left out."""
    lines: list[str] = []
    for key, value in answers.items():
        if key == "flow_token" or value in (None, "", [], {}):
            continue
        if isinstance(value, dict):
            lines.extend(_answer_lines(value))
        elif isinstance(value, list):
            lines.append(clean_text(f"{key}: {', '.join(_answer_word(v) for v in value)}"))
        else:
            lines.append(clean_text(f"{key}: {_answer_word(value)}"))
    return lines


def _answer_word(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


# interactive.type -> parser of the object under that key.
INTERACTIVE_PARSERS: dict[str, Callable[[Mapping[str, Any]], Content]] = {
    "button_reply": _choice,
    "list_reply": _choice,
    "nfm_reply": _form_reply,
}


def _interactive(message: Mapping[str, Any], body: Mapping[str, Any]) -> Content:
    reply_type = str(body.get("type") or "")
    parser = INTERACTIVE_PARSERS.get(reply_type)
    reply = _obj(body.get(reply_type))
    if parser is None or not reply:
        return _unsupported(message, body)
    return parser(reply)


def _reaction(message: Mapping[str, Any], body: Mapping[str, Any]) -> Content:
    emoji = clean_text(body.get("emoji"))
    if not emoji:
        return "reaction removed (no emoji)"
    return {"kind": "reaction", "text": emoji}


def _system(message: Mapping[str, Any], body: Mapping[str, Any]) -> Content:
    """Meta's notice that a user changed number or id: no words of the citizen's to keep."""
    return f"system notice {str(body.get('type') or '')!r} is not a message from the citizen"


def _request_welcome(message: Mapping[str, Any], body: Mapping[str, Any]) -> Content:
    return "request_welcome (the citizen opened the chat) carries no message"


def _unsupported(message: Mapping[str, Any], body: Mapping[str, Any]) -> Content:
    """ "unsupported", "unknown", "order", ...: kept and shown with Meta's words, never dropped."""
    return {"kind": "unsupported", "text": _errors_summary(message)}


# Meta's message type -> its parser; any other type is kept as "unsupported".
CONTENT_PARSERS: dict[str, ContentParser] = {
    "text": _text,
    **dict.fromkeys(MEDIA_KINDS, _media),
    "location": _location,
    "contacts": _contacts,
    "button": _button,
    "interactive": _interactive,
    "reaction": _reaction,
    "system": _system,
    "request_welcome": _request_welcome,
}


def _id_text(value: Any) -> str | None:
    """A sender id as Meta gives it (string or number), trimmed; None when absent or not scalar."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return str(value).strip() or None


def _obj(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one: Meta's optional parts, read safely."""
    return value if isinstance(value, dict) else {}


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _graph_error(response: requests.Response, data: Any) -> SendError:
    """A SendError from a Graph error answer, decided by the code table (errors.py)."""
    error = _obj(data.get("error")) if isinstance(data, dict) else {}
    code: int | None
    try:
        code = int(error["code"]) if error.get("code") is not None else None
    except (TypeError, ValueError):
        code = None
    rule = rule_for(code, response.status_code)
    details = _error_details(error)
    reason = " ".join(
        str(piece)
        for piece in (
            f"HTTP {response.status_code}",
            f"code {code}" if code is not None else None,
            f"subcode {error['error_subcode']}" if error.get("error_subcode") else None,
            error.get("message") or rule.note,
            f"({details})" if details else None,
        )
        if piece
    )
    retry_after = retry_after_seconds(response.headers.get("Retry-After")) if rule.retryable else None
    return SendError(
        reason,
        retryable=rule.retryable,
        code=str(code) if code is not None else str(response.status_code),
        retry_after=retry_after,
        unreachable=rule.unreachable,
        window_closed=rule.window_closed,
    )


def _error_details(error: Mapping[str, Any]) -> str | None:
    """``error_data.details`` of a Graph or webhook error object, when there is one."""
    data = error.get("error_data")
    return str(data["details"]) if isinstance(data, dict) and data.get("details") else None


def _contacts_summary(cards: Any) -> str:
    """One line per shared contact card: "Name: +62..., +62...", for the operator to read."""
    if not isinstance(cards, list):
        return ""
    lines = []
    for card in cards:
        if not isinstance(card, dict):
            continue
        name = _obj(card.get("name"))
        label = name.get("formatted_name") or " ".join(
            p for p in (name.get("first_name"), name.get("last_name")) if p
        )
        phones = [
            str(p.get("phone") or p.get("wa_id"))
            for p in card.get("phones") or []
            if isinstance(p, dict) and (p.get("phone") or p.get("wa_id"))
        ]
        line = clean_text(label or "?")
        if phones:
            line += ": " + ", ".join(phones)
        lines.append(line)
    return "\n".join(lines)


def _errors_summary(message: Mapping[str, Any]) -> str:
    """The provider's own words for a message we cannot show (type and error title)."""
    errors = message.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        details = _error_details(first)
        return clean_text(" ".join(str(p) for p in (first.get("title"), details) if p))
    return ""
