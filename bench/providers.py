"""The loopback providers, in a child process of their own, reporting every reply they receive.

They run apart from the load driver so that neither steals the other's interpreter lock.
Each accepted send is reported on a multiprocessing queue as
``(received_at, conversation key, text)``: the driver turns that into inbound-to-reply
latency and into the citizen's next answer. ``delay`` makes each provider answer as slowly
as the real one (the reply is recorded when it arrives, the answer waits ``delay`` seconds).
"""

from __future__ import annotations

import json
import multiprocessing
import re
import signal
import time
from typing import Any
from urllib.parse import parse_qsl

from gateway.devtools.loopback.server import LoopbackProvider, RecordedRequest, Reply

_DIGITS = re.compile(r"\D")

# Credentials the stand-ins expect; the gateway gets the same ones from `channel_env`.
SMS_KEY, SMS_SECRET, SMS_SIGNING = "bench-key", "bench-secret", "bench-sms-signing"
TWILIO_SID, TWILIO_TOKEN = "AC" + "b" * 32, "bench-twilio-token"
META_TOKEN, META_PHONE_ID, META_APP_SECRET = "bench-meta-token", "106540352242922", "bench-meta-secret"
TELEGRAM_TOKEN, TELEGRAM_SECRET = "123456:BENCH-token", "bench-telegram-secret"


class _TelegramFallback(LoopbackProvider):
    """The few Bot API methods a send needs, used only while gateway.devtools.loopback.telegram is absent."""

    def __init__(self, token: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.token = token
        self._next = 1

    def handle(self, request: RecordedRequest) -> Reply:
        method = request.path.rsplit("/", 1)[-1]
        if not request.path.startswith(f"/bot{self.token}/"):
            return Reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        params = _params(request)
        if method == "getMe":
            bot = {"id": 123456, "is_bot": True, "first_name": "Lapor", "username": "lapor_bench_bot"}
            return Reply(200, {"ok": True, "result": bot})
        if method == "sendMessage":
            self._next += 1
            chat = int(str(params.get("chat_id", "0")))
            message = {
                "message_id": self._next,
                "date": int(time.time()),
                "chat": {"id": chat, "type": "private"},
                "text": params.get("text", ""),
            }
            return Reply(200, {"ok": True, "result": message})
        return Reply(400, {"ok": False, "error_code": 400, "description": f"method {method} not supported"})


def _params(request: RecordedRequest) -> dict[str, Any]:
    """Request parameters whether sent as JSON or as a form."""
    kind = request.headers.get("content-type", "")
    if "json" in kind:
        try:
            data = request.json()
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}
    if "multipart" in kind:
        return {}
    return dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))


def reply_key(provider: str, request: RecordedRequest) -> tuple[str, str] | None:
    """(conversation key, text) of a send call, or None for anything else (getMe, media)."""
    if request.method != "POST":
        return None
    params = _params(request)
    if provider == "sms" and request.path.endswith(("/sms/json", "/text/advanced")):
        to = params.get("to") or ""
        if not to and isinstance(params.get("messages"), list):
            to = str(params["messages"][0].get("destinations", [{}])[0].get("to", ""))
        return f"sms:{_DIGITS.sub('', str(to))}", str(params.get("text", ""))
    if provider == "twilio" and request.path.endswith("/Messages.json"):
        to = str(params.get("To", ""))
        variant = "twilio-wa" if to.startswith("whatsapp:") else "twilio-sms"
        return f"{variant}:{_DIGITS.sub('', to)}", str(params.get("Body", ""))
    if provider == "whatsapp" and request.path.endswith("/messages"):
        text = ""
        if isinstance(params.get("text"), dict):
            text = str(params["text"].get("body", ""))
        elif isinstance(params.get("interactive"), dict):
            text = str(params["interactive"].get("body", {}).get("text", ""))
        return f"whatsapp:{_DIGITS.sub('', str(params.get('to', '')))}", text
    if provider == "telegram" and request.path.endswith(("/sendMessage", "/sendPhoto")):
        return f"telegram:{_DIGITS.sub('', str(params.get('chat_id', '')))}", str(
            params.get("text") or params.get("caption") or ""
        )
    return None


def _recording(provider: str, cls: type[LoopbackProvider], sink: Any) -> type[LoopbackProvider]:
    class Recording(cls):  # type: ignore[misc, valid-type]
        def handle(self, request: RecordedRequest) -> Reply:
            reply = super().handle(request)
            if reply.status < 300:
                found = reply_key(provider, request)
                if found is not None:
                    sink.put((request.received_at, found[0], found[1]))
            # A long run must not keep every request: the bench reads the sink instead.
            if len(self.requests) > 2000:
                self.requests.clear()
                sent = getattr(self, "sent", None)
                if isinstance(sent, list):
                    sent.clear()
            return reply

    Recording.__name__ = f"Recording{cls.__name__}"
    return Recording


def _serve(sink: Any, ready: Any, delay: float) -> None:
    """Child process body: start the four stand-ins, report their URLs, wait for SIGTERM."""
    # Blocked before the server threads start, so that only sigwait below receives them.
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    from gateway.devtools.loopback.meta import MetaStandIn
    from gateway.devtools.loopback.sms import SmsStandIn
    from gateway.devtools.loopback.twilio import TwilioStandIn

    try:
        from gateway.devtools.loopback.telegram import TelegramStandIn as telegram_cls  # type: ignore[import-not-found]
    except ModuleNotFoundError:
        telegram_cls = _TelegramFallback
    started = {
        "sms": _recording("sms", SmsStandIn, sink)(api_key=SMS_KEY, api_secret=SMS_SECRET),
        "twilio": _recording("twilio", TwilioStandIn, sink)(account_sid=TWILIO_SID, auth_token=TWILIO_TOKEN),
        "whatsapp": _recording("whatsapp", MetaStandIn, sink)(
            access_token=META_TOKEN, phone_number_id=META_PHONE_ID
        ),
        "telegram": _recording("telegram", telegram_cls, sink)(token=TELEGRAM_TOKEN),
    }
    for provider in started.values():
        provider.delay = delay
        provider.start()
    urls = {name: p.base_url for name, p in started.items()}
    urls["whatsapp_api"] = started["whatsapp"].api_base_url  # type: ignore[attr-defined]
    urls["telegram_impl"] = telegram_cls.__name__
    ready.put(json.dumps(urls))
    signal.sigwait(stop_signals)
    for provider in started.values():
        provider.stop()


def channel_env(urls: dict[str, str]) -> dict[str, str]:
    """Gateway settings pointing every channel at the bench's stand-ins."""
    return {
        "SMS_SIGNATURE_SECRET": SMS_SIGNING,
        "SMS_PROFILE": "vonage",
        "SMS_API_BASE_URL": urls["sms"],
        "SMS_API_KEY": SMS_KEY,
        "SMS_API_SECRET": SMS_SECRET,
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_API_BASE_URL": urls["twilio"],
        "TWILIO_SMS_FROM": "+15005550006",
        "TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886",
        "WHATSAPP_ACCESS_TOKEN": META_TOKEN,
        "WHATSAPP_PHONE_NUMBER_ID": META_PHONE_ID,
        "WHATSAPP_APP_SECRET": META_APP_SECRET,
        "WHATSAPP_VERIFY_TOKEN": "bench-verify",
        "WHATSAPP_API_BASE_URL": urls["whatsapp_api"],
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "TELEGRAM_API_BASE_URL": urls["telegram"],
    }


class ProviderProcess:
    """Starts the stand-ins in a spawned child; ``replies`` yields what they receive."""

    def __init__(self, delay: float) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.replies = ctx.Queue()
        self._ready = ctx.Queue()
        self._process = ctx.Process(target=_serve, args=(self.replies, self._ready, delay), daemon=True)
        self.urls: dict[str, str] = {}

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def start(self, timeout: float = 30.0) -> ProviderProcess:
        self._process.start()
        self.urls = json.loads(self._ready.get(timeout=timeout))
        return self

    def stop(self) -> None:
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
