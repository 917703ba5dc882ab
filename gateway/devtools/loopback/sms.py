"""An SMS aggregator stand-in speaking Vonage's ``/sms/json`` and Infobip's ``/sms/2/text/advanced``.

Used by the adapter tests (the real ``requests`` client talks to it) and by
``lapor-gateway run`` as the built-in aggregator. It checks credentials the way
each API does (Vonage answers HTTP 200 with a per-message status code, Infobip
answers 401) and counts segments with the same GSM-7/UCS-2 rules the adapter uses,
so ``message-count`` comes out as a real aggregator's would.

With ``delivery_receipts=True`` it also reports delivery like the aggregators do,
to the URL the send named (Vonage ``callback``, Infobip ``notifyUrl``), after
``receipt_delay`` seconds, from a background thread: a Vonage delivery receipt per
part (POST JSON, signed with ``sig`` as Vonage's signed webhooks are), or an Infobip
delivery report (``{"results": [...]}``, signed with ``X-Lapor-Signature`` as the
gateway asks of the proxy in front of it). Both are keyed by ``signature_secret``,
the gateway's ``SMS_SIGNATURE_SECRET``.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.sms.segments import split_segments
from adapters.sms.signature import INFOBIP_HEADER, VONAGE_METHODS, body_signature, vonage_signature
from gateway.devtools.loopback.server import Callback, LoopbackProvider, RecordedRequest, Reply

_DIGITS = re.compile(r"^[1-9]\d{6,14}$")


def _vonage(status: str, error_text: str) -> Reply:
    """Vonage reports request errors inside a 200 answer, one message entry with a status."""
    return Reply(200, {"message-count": "1", "messages": [{"status": status, "error-text": error_text}]})


def _infobip_error(status: int, message_id: str, text: str) -> Reply:
    return Reply(status, {"requestError": {"serviceException": {"messageId": message_id, "text": text}}})


def _infobip_time(moment: datetime) -> str:
    """Infobip's timestamps: ``2019-11-09T16:00:00.000+0000``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


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
        delivery_receipts: bool = False,
        signature_secret: str | None = None,
        signature_method: str = "md5hash",
        receipt_delay: float = 0.0,
    ) -> None:
        if delivery_receipts and not signature_secret:
            raise ValueError("delivery receipts need the signature_secret the gateway checks them with")
        if signature_method not in VONAGE_METHODS:
            raise ValueError(f"signature_method must be one of {', '.join(VONAGE_METHODS)}")
        super().__init__(host=host, port=port, delay=delay)
        self.api_key = api_key
        self.api_secret = api_secret
        self.profile = profile
        self.delivery_receipts = delivery_receipts
        self.signature_secret = signature_secret or ""
        self.signature_method = signature_method
        self.receipt_delay = receipt_delay
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
        if self.delivery_receipts and params.get("callback"):
            # One receipt per part, as Vonage sends them; the parts arrive together.
            self.post_later(
                [self._vonage_receipt(params, entry, first=not i) for i, entry in enumerate(messages)]
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
        receipts = []
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
                    if self.delivery_receipts and item.get("notifyUrl"):
                        receipts.append(self._infobip_report(bulk_id, item, to, message_id, plan.count))
                answers.append({"to": to, "status": status, "messageId": message_id})
        if not answers:
            return _infobip_error(400, "BAD_REQUEST", "destinations must not be empty")
        self.post_later(receipts)
        return Reply(200, {"bulkId": bulk_id, "messages": answers})

    # -- delivery receipts ------------------------------------------------------------
    def _vonage_receipt(self, params: dict[str, str], entry: dict[str, str], *, first: bool) -> Callback:
        """Vonage's delivery receipt for one part, as its "POST-JSON" webhook method sends it."""
        now = datetime.now(UTC) + timedelta(seconds=self.receipt_delay)
        receipt = {
            "msisdn": entry["to"],
            "to": params["from"],
            "network-code": entry["network"],
            "messageId": entry["message-id"],
            "price": entry["message-price"],
            "status": "delivered",
            "scts": now.strftime("%y%m%d%H%M"),
            "err-code": "0",
            "api-key": self.api_key,
            "message-timestamp": now.strftime("%Y-%m-%d %H:%M:%S"),
            "timestamp": str(int(now.timestamp())),
            "nonce": str(uuid.uuid4()),
        }
        if entry.get("client-ref"):
            receipt["client-ref"] = entry["client-ref"]
        receipt["sig"] = vonage_signature(receipt, self.signature_secret, self.signature_method)
        return Callback(
            params["callback"],
            json.dumps(receipt).encode("utf-8"),
            {"Content-Type": "application/json"},
            delay=self.receipt_delay if first else 0.0,
            label="delivered",
        )

    def _infobip_report(
        self, bulk_id: str, item: dict[str, Any], to: str, message_id: str, parts: int
    ) -> Callback:
        """Infobip's delivery report for one message, signed like the gateway's proxy would."""
        sent = datetime.now(UTC)
        done = sent + timedelta(seconds=self.receipt_delay)
        result: dict[str, Any] = {
            "bulkId": bulk_id,
            "messageId": message_id,
            "to": to,
            "sentAt": _infobip_time(sent),
            "doneAt": _infobip_time(done),
            "smsCount": parts,
            "mccMnc": "51010",
            "price": {"pricePerMessage": 0.0333, "currency": "EUR"},
            "status": {
                "groupId": 3,
                "groupName": "DELIVERED",
                "id": 5,
                "name": "DELIVERED_TO_HANDSET",
                "description": "Message delivered to handset",
            },
            "error": {
                "groupId": 0,
                "groupName": "OK",
                "id": 0,
                "name": "NO_ERROR",
                "description": "No Error",
                "permanent": False,
            },
        }
        if item.get("callbackData"):
            result["callbackData"] = item["callbackData"]
        body = json.dumps({"results": [result]}).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            INFOBIP_HEADER: body_signature(body, self.signature_secret),
        }
        return Callback(str(item["notifyUrl"]), body, headers, delay=self.receipt_delay, label="delivered")
