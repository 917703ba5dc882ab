"""An SMS aggregator stand-in speaking Vonage's ``/sms/json`` and Infobip's ``/sms/2/text/advanced``.

Used by the adapter tests (the real ``requests`` client talks to it) and by
``lapor-gateway run`` as the built-in aggregator. It checks credentials the way
each API does (Vonage answers HTTP 200 with a per-message status code, Infobip
answers 401) and counts segments with the same GSM-7/UCS-2 rules the adapter uses,
so ``message-count`` comes out as a real aggregator's would.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from adapters.sms.segments import split_segments
from gateway.loopback.server import LoopbackProvider, RecordedRequest, Reply

_DIGITS = re.compile(r"^[1-9]\d{6,14}$")


def _vonage(status: str, error_text: str) -> Reply:
    """Vonage reports request errors inside a 200 answer, one message entry with a status."""
    return Reply(200, {"message-count": "1", "messages": [{"status": status, "error-text": error_text}]})


def _infobip_error(status: int, message_id: str, text: str) -> Reply:
    return Reply(status, {"requestError": {"serviceException": {"messageId": message_id, "text": text}}})


class SmsStandIn(LoopbackProvider):
    """Answers Vonage and Infobip send calls; ``profile`` only picks ``send_path``."""

    def __init__(
        self,
        api_key: str = "loopback-key",
        api_secret: str = "loopback-secret",  # noqa: S107 (the stand-in's dummy secret)
        profile: str = "vonage",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        delay: float = 0.0,
    ) -> None:
        super().__init__(host=host, port=port, delay=delay)
        self.api_key = api_key
        self.api_secret = api_secret
        self.profile = profile
        # Accepted messages, one entry per send call: to, from, text, encoding, parts, ids.
        self.sent: list[dict[str, Any]] = []

    @property
    def send_path(self) -> str:
        return "/sms/2/text/advanced" if self.profile == "infobip" else "/sms/json"

    def handle(self, request: RecordedRequest) -> Reply:
        if request.method == "POST" and request.path == "/sms/json":
            return self._vonage_send(request)
        if request.method == "POST" and request.path == "/sms/2/text/advanced":
            return self._infobip_send(request)
        return Reply(404, {"error": "not found"})

    # -- Vonage ---------------------------------------------------------------------
    def _vonage_send(self, request: RecordedRequest) -> Reply:
        if "json" in request.headers.get("content-type", ""):
            try:
                params = {k: str(v) for k, v in request.json().items()}
            except (ValueError, AttributeError):
                return _vonage("2", "Missing api_key")
        else:
            params = request.form()
        for key in ("api_key", "api_secret", "from", "to"):
            if not params.get(key):
                return _vonage("2", f"Missing {key}")
        if params["api_key"] != self.api_key or params["api_secret"] != self.api_secret:
            return _vonage("4", "Bad Credentials")
        to = params["to"].lstrip("+")
        if not _DIGITS.match(to):
            return _vonage("3", "Invalid to address")
        text = params.get("text", "")
        if not text:
            return _vonage("2", "Missing text")
        plan = split_segments(text)
        if params.get("type", "text") == "text" and plan.encoding == "ucs2":
            # Vonage would send the text as GSM-7 and mangle what does not fit; say so loudly.
            return _vonage("3", "Unicode text sent with type=text")
        ids = [uuid.uuid4().hex[:16].upper() for _ in plan.parts]
        messages = []
        for message_id in ids:
            entry = {
                "to": to,
                "message-id": message_id,
                "status": "0",
                "remaining-balance": "10.00000000",
                "message-price": "0.03330000",
                "network": "51010",
            }
            if params.get("client-ref"):
                entry["client-ref"] = params["client-ref"]
            messages.append(entry)
        self.sent.append(
            {
                "to": to,
                "from": params["from"],
                "text": text,
                "encoding": plan.encoding,
                "parts": plan.count,
                "ids": ids,
                "reference": params.get("client-ref"),
                "callback": params.get("callback"),
            }
        )
        return Reply(200, {"message-count": str(len(messages)), "messages": messages})

    # -- Infobip --------------------------------------------------------------------
    def _infobip_send(self, request: RecordedRequest) -> Reply:
        if request.headers.get("authorization", "") != f"App {self.api_key}":
            return _infobip_error(401, "UNAUTHORIZED", "Invalid login details")
        try:
            data = request.json()
        except ValueError:
            return _infobip_error(400, "BAD_REQUEST", "Invalid JSON")
        items = data.get("messages") if isinstance(data, dict) else None
        if not isinstance(items, list) or not items:
            return _infobip_error(400, "BAD_REQUEST", "messages must not be empty")
        bulk_id = uuid.uuid4().hex
        answers = []
        for item in items:
            text = str(item.get("text") or "")
            for destination in item.get("destinations") or []:
                to = str(destination.get("to") or "").lstrip("+")
                message_id = str(destination.get("messageId") or uuid.uuid4().hex)
                if not _DIGITS.match(to):
                    status = {
                        "groupId": 5,
                        "groupName": "REJECTED",
                        "id": 52,
                        "name": "REJECTED_INVALID_DESTINATION",
                        "description": "Invalid destination address",
                    }
                else:
                    status = {
                        "groupId": 1,
                        "groupName": "PENDING",
                        "id": 26,
                        "name": "PENDING_ACCEPTED",
                        "description": "Message sent to next instance",
                    }
                    plan = split_segments(text)
                    self.sent.append(
                        {
                            "to": to,
                            "from": item.get("from"),
                            "text": text,
                            "encoding": plan.encoding,
                            "parts": plan.count,
                            "ids": [message_id],
                            "reference": item.get("callbackData"),
                            "callback": item.get("notifyUrl"),
                        }
                    )
                answers.append({"to": to, "status": status, "messageId": message_id})
        if not answers:
            return _infobip_error(400, "BAD_REQUEST", "destinations must not be empty")
        return Reply(200, {"bulkId": bulk_id, "messages": answers})
