"""A stand-in for the Telegram Bot API, for tests and `lapor-gateway run` demos.

Answers ``/bot<token>/<method>`` (GET or POST; form, JSON or query parameters, as
python-telegram-bot and curl send them) and ``/file/bot<token>/<path>`` the way
api.telegram.org does: ``{"ok": true, "result": ...}`` or ``{"ok": false,
"error_code": ..., "description": ...}`` with the matching HTTP status.

Tests steer it per chat or per method: ``block(chat_id)`` (403, the user blocked
the bot), ``forget_chat(chat_id)`` (400 chat not found), ``flood(method,
retry_after)`` (429 with ``parameters.retry_after``), ``fail_method(method,
Reply)``, and ``fail_next`` from the base class for the very next request.

Long polling as Telegram documents it: ``push_update`` queues an update (its ``update_id``
given or the next one); ``getUpdates`` answers the unconfirmed ones (an ``offset`` confirms
every update below it; a negative one keeps the last ``-offset``), waits up to ``timeout``
seconds for one, filters by ``allowed_updates`` (remembered between calls, as Telegram does),
and answers 409 while a webhook is set. ``deleteWebhook`` with ``drop_pending_updates`` drops
the queue; ``getWebhookInfo`` counts it in ``pending_update_count``.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from typing import Any
from urllib.parse import parse_qsl, unquote

from gateway.devtools.loopback.meta import PLACEHOLDER_PNG
from gateway.devtools.loopback.server import LoopbackProvider, RecordedRequest, Reply

_METHOD = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)$")
_FILE = re.compile(r"^/file/bot(?P<token>[^/]+)/(?P<path>.+)$")

# Parameters that python-telegram-bot sends JSON-encoded inside a form.
_JSON_PARAMS = {"reply_markup", "allowed_updates", "entities", "caption_entities", "link_preview_options"}


def tg_error(code: int, description: str, **parameters: Any) -> Reply:
    """A Bot API error answer."""
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return Reply(code, body)


def too_many_requests(retry_after: int = 3) -> Reply:
    return tg_error(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)


def blocked() -> Reply:
    return tg_error(403, "Forbidden: bot was blocked by the user")


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class TelegramStandIn(LoopbackProvider):
    """The Bot API for one bot."""

    def __init__(
        self,
        token: str,
        *,
        bot_username: str = "LaporGatewayBot",
        serve_any_file: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        self.token = token
        self.bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 7000000001
        self.bot_username = bot_username
        self.serve_any_file = serve_any_file
        self.webhook: dict[str, Any] = {}
        self._state = threading.Lock()
        self._blocked: set[int] = set()
        self._unknown_chats: set[int] = set()
        self._method_failures: dict[str, list[Reply]] = {}
        self._files: dict[str, tuple[str, bytes]] = {}
        self._message_ids: dict[int, int] = {}
        self._answered: list[str] = []
        # Long polling: the queue of unconfirmed updates and the update kinds asked for.
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 900000001
        self._allowed_updates: list[str] | None = None
        self._arrived = threading.Condition(self._state)

    @property
    def api_base_url(self) -> str:
        """What TELEGRAM_API_BASE_URL should be set to."""
        return self.base_url

    # -- test controls ------------------------------------------------------------------
    def reset(self) -> None:
        self.clear()
        with self._state:
            self._blocked.clear()
            self._unknown_chats.clear()
            self._method_failures.clear()
            self._files.clear()
            self._message_ids.clear()
            self._answered.clear()
            self._updates.clear()
            self._allowed_updates = None
            self.webhook = {}
        self.serve_any_file = True

    def block(self, chat_id: int) -> None:
        with self._state:
            self._blocked.add(int(chat_id))

    def forget_chat(self, chat_id: int) -> None:
        """Answer "chat not found" for this chat, as for a user who never started the bot."""
        with self._state:
            self._unknown_chats.add(int(chat_id))

    def fail_method(self, method: str, *replies: Reply) -> None:
        """Answer the next calls of ``method`` (e.g. "sendMessage") with these replies."""
        with self._state:
            self._method_failures.setdefault(method, []).extend(replies)

    def flood(self, method: str = "sendMessage", retry_after: int = 3) -> None:
        self.fail_method(method, too_many_requests(retry_after))

    def add_file(self, file_id: str, content: bytes, file_path: str = "photos/file_0.jpg") -> None:
        with self._state:
            self._files[file_id] = (file_path, content)

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue ``update`` for getUpdates (its update_id, or the next one); returns the id."""
        with self._arrived:
            update = dict(update)
            if not isinstance(update.get("update_id"), int):
                update["update_id"] = self._next_update_id
            self._next_update_id = max(self._next_update_id, update["update_id"] + 1)
            self._updates.append(update)
            self._arrived.notify_all()
            return int(update["update_id"])

    def push_text(self, chat_id: int, text: str, *, language_code: str = "id") -> int:
        """Queue a citizen's private text message, shaped as Telegram sends it."""
        with self._state:
            message_id = self._next_update_id % 1_000_000
        user = {"id": int(chat_id), "first_name": "Warga", "language_code": language_code}
        return self.push_update(
            {
                "message": {
                    "message_id": message_id,
                    "from": {**user, "is_bot": False},
                    "chat": {"id": int(chat_id), "first_name": "Warga", "type": "private"},
                    "date": int(time.time()),
                    "text": text,
                }
            }
        )

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """The updates not yet confirmed by an offset."""
        with self._state:
            return list(self._updates)

    def calls(self, method: str) -> list[dict[str, Any]]:
        """Parameters of every call of ``method`` received, in order."""
        found = []
        for request in list(self.requests):
            match = _METHOD.match(unquote(request.path))
            if match and match.group("method") == method:
                found.append(self.params(request))
        return found

    @property
    def answered_callbacks(self) -> list[str]:
        with self._state:
            return list(self._answered)

    # -- request parsing -------------------------------------------------------------------
    @staticmethod
    def params(request: RecordedRequest) -> dict[str, Any]:
        """Parameters from the query string and the body, decoded like the Bot API does."""
        values: dict[str, Any] = dict(request.query)
        content_type = request.headers.get("content-type", "")
        if request.body:
            if "application/json" in content_type:
                loaded = json.loads(request.body.decode("utf-8"))
                if isinstance(loaded, dict):
                    values.update(loaded)
            elif "multipart/form-data" in content_type:
                values.update(_multipart_fields(request.body, content_type))
            else:
                values.update(parse_qsl(request.body.decode("utf-8"), keep_blank_values=True))
        for key in _JSON_PARAMS & values.keys():
            if isinstance(values[key], str):
                with contextlib.suppress(ValueError):
                    values[key] = json.loads(values[key])
        return values

    # -- Bot API ------------------------------------------------------------------------------
    def handle(self, request: RecordedRequest) -> Reply:
        # httpx sends the token's ":" as "%3A" in file URLs; Telegram accepts both spellings.
        path = unquote(request.path)
        file_match = _FILE.match(path)
        if file_match:
            if file_match.group("token") != self.token:
                return tg_error(401, "Unauthorized")
            return self._download(file_match.group("path"))
        match = _METHOD.match(path)
        if not match:
            return tg_error(404, "Not Found")
        if match.group("token") != self.token:
            return tg_error(401, "Unauthorized")
        method = match.group("method")
        with self._state:
            queued = self._method_failures.get(method)
            failure = queued.pop(0) if queued else None
        if failure is not None:
            return failure
        try:
            params = self.params(request)
        except (ValueError, UnicodeDecodeError):
            return tg_error(400, "Bad Request: can't parse request parameters")
        handler = getattr(self, f"_m_{method.lower()}", None)
        if handler is None:
            return tg_error(404, "Not Found")
        result: Reply | Any = handler(params)
        if isinstance(result, Reply):
            return result
        return Reply(200, {"ok": True, "result": result})

    def _bot_user(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": "LAPOR!", "username": self.bot_username}

    def _m_getme(self, params: dict[str, Any]) -> Any:
        return {
            **self._bot_user(),
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _chat(self, params: dict[str, Any]) -> int | Reply:
        raw = str(params.get("chat_id", "")).strip()
        if not re.fullmatch(r"-?\d+", raw):
            return tg_error(400, "Bad Request: chat not found")
        chat_id = int(raw)
        with self._state:
            if chat_id in self._blocked:
                return blocked()
            if chat_id in self._unknown_chats:
                return tg_error(400, "Bad Request: chat not found")
        return chat_id

    def _message(self, chat_id: int, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        with self._state:
            self._message_ids[chat_id] = self._message_ids.get(chat_id, 100) + 1
            message_id = self._message_ids[chat_id]
        message: dict[str, Any] = {
            "message_id": message_id,
            "from": self._bot_user(),
            "chat": {"id": chat_id, "first_name": "Warga", "type": "private"},
            "date": int(time.time()),
            **content,
        }
        if isinstance(params.get("reply_markup"), dict):
            message["reply_markup"] = params["reply_markup"]
        return message

    @staticmethod
    def _check_markup(params: dict[str, Any]) -> Reply | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            return tg_error(400, "Bad Request: can't parse reply keyboard markup JSON object")
        for row in markup.get("inline_keyboard") or []:
            for button in row:
                data = button.get("callback_data")
                if not button.get("text"):
                    return tg_error(400, "Bad Request: text buttons are unallowed in the inline keyboard")
                if data is not None and not 1 <= len(str(data).encode("utf-8")) <= 64:
                    return tg_error(400, "Bad Request: BUTTON_DATA_INVALID")
        return None

    def _m_sendmessage(self, params: dict[str, Any]) -> Any:
        chat = self._chat(params)
        if isinstance(chat, Reply):
            return chat
        text = str(params.get("text", ""))
        if not text.strip():
            return tg_error(400, "Bad Request: message text is empty")
        if utf16_length(text) > 4096:
            return tg_error(400, "Bad Request: message is too long")
        problem = self._check_markup(params)
        if problem is not None:
            return problem
        return self._message(chat, params, text=text)

    def _m_sendphoto(self, params: dict[str, Any]) -> Any:
        chat = self._chat(params)
        if isinstance(chat, Reply):
            return chat
        if not params.get("photo"):
            return tg_error(400, "Bad Request: there is no photo in the request")
        caption = str(params.get("caption") or "")
        if utf16_length(caption) > 1024:
            return tg_error(400, "Bad Request: message caption is too long")
        problem = self._check_markup(params)
        if problem is not None:
            return problem
        sizes = [
            {
                "file_id": f"AgACAgUAAxkDAAI{chat}{w}",
                "file_unique_id": f"AQAD{w}",
                "file_size": w * 60,
                "width": w,
                "height": w * 3 // 4,
            }
            for w in (90, 320, 800)
        ]
        content: dict[str, Any] = {"photo": sizes}
        if caption:
            content["caption"] = caption
        return self._message(chat, params, **content)

    def _m_answercallbackquery(self, params: dict[str, Any]) -> Any:
        query_id = str(params.get("callback_query_id") or "")
        if not query_id:
            return tg_error(
                400, "Bad Request: query is too old and response timeout expired or query ID is invalid"
            )
        with self._state:
            self._answered.append(query_id)
        return True

    def _m_getfile(self, params: dict[str, Any]) -> Any:
        file_id = str(params.get("file_id") or "")
        with self._state:
            found = self._files.get(file_id)
        if found is None and not (self.serve_any_file and file_id):
            return tg_error(400, "Bad Request: invalid file_id")
        path, content = found or (f"photos/file_{abs(hash(file_id)) % 1000}.png", PLACEHOLDER_PNG)
        return {
            "file_id": file_id,
            "file_unique_id": "AQAD" + file_id[-8:],
            "file_size": len(content),
            "file_path": path,
        }

    def _download(self, path: str) -> Reply:
        with self._state:
            for file_path, content in self._files.values():
                if file_path == path:
                    return Reply(200, content, headers={"Content-Type": "application/octet-stream"})
        if self.serve_any_file:
            return Reply(200, PLACEHOLDER_PNG, headers={"Content-Type": "application/octet-stream"})
        return tg_error(404, "Not Found")

    def _m_setwebhook(self, params: dict[str, Any]) -> Any:
        url = str(params.get("url") or "")
        if url and not url.startswith(("https://", "http://")):
            return tg_error(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            return tg_error(400, "Bad Request: secret token contains unallowed characters")
        with self._state:
            self.webhook = {
                "url": url,
                "secret_token": secret,
                "allowed_updates": params.get("allowed_updates"),
            }
        return True

    def _m_deletewebhook(self, params: dict[str, Any]) -> Any:
        with self._state:
            self.webhook = {}
            if str(params.get("drop_pending_updates", "")).lower() in ("true", "1"):
                self._updates.clear()
        return True

    def _m_getupdates(self, params: dict[str, Any]) -> Any:
        try:
            offset = int(params["offset"]) if params.get("offset") not in (None, "") else None
            limit = min(max(int(params.get("limit") or 100), 1), 100)
            timeout = max(float(params.get("timeout") or 0), 0.0)
        except (TypeError, ValueError):
            return tg_error(400, "Bad Request: can't parse request parameters")
        allowed = params.get("allowed_updates")
        deadline = time.monotonic() + timeout
        with self._arrived:
            if self.webhook.get("url"):
                return tg_error(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            if isinstance(allowed, list):
                self._allowed_updates = [str(kind) for kind in allowed] or None
            if offset is not None and offset < 0:
                self._updates = self._updates[offset:]
            elif offset is not None:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while True:
                wanted = self._allowed_updates or ["message", "edited_message", "callback_query"]
                ready = [u for u in self._updates if any(kind in u for kind in wanted)]
                remaining = deadline - time.monotonic()
                if ready or remaining <= 0:
                    return ready[:limit]
                self._arrived.wait(remaining)

    def _m_getwebhookinfo(self, params: dict[str, Any]) -> Any:
        with self._state:
            hook = dict(self.webhook)
            pending = len(self._updates)
        info: dict[str, Any] = {
            "url": hook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": pending,
        }
        if hook.get("allowed_updates"):
            info["allowed_updates"] = hook["allowed_updates"]
        return info


def _multipart_fields(body: bytes, content_type: str) -> dict[str, str]:
    """Text fields of a multipart body (file parts are skipped): enough for sendPhoto by URL."""
    match = re.search(r"boundary=\"?([^\";]+)\"?", content_type)
    if not match:
        return {}
    boundary = b"--" + match.group(1).encode()
    fields: dict[str, str] = {}
    for part in body.split(boundary):
        head, _, value = part.partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]+)"', head)
        if not name or b"filename=" in head:
            continue
        fields[name.group(1).decode()] = value.rstrip(b"\r\n-").decode("utf-8", errors="replace")
    return fields
