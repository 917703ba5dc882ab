"""Telegram Bot API adapter, on python-telegram-bot 22 (``Update`` to parse, ``Bot`` to send).

Telegram posts one ``Update`` per webhook call with the secret we registered in
``X-Telegram-Bot-Api-Secret-Token``. Telegram delivers updates in order and
retries a failed one, holding back the rest, so anything that is valid JSON with
an ``update_id`` is answered 200 (unknown kinds are recorded as ignored); only a
body that is not an update at all is refused with a PayloadError. Which shapes are
ignored (edits, channel posts, groups, bots) is decided by `not_for_us`, before
anything is read, and listed in docs/channels.md ("Message shapes"). A location or
venue whose coordinates are not a place (text, null, NaN, latitude past ±90,
longitude past ±180) is recorded as ignored too: refusing it would hold the chat's
later updates back, and storing it would give operators a pin that is nowhere.

The Bot API client is asynchronous while our send jobs are synchronous. Each
adapter owns one event loop, running in a daemon thread, and one ``Bot``
initialized once on that loop; every call is submitted to it with
``run_coroutine_threadsafe``. That works from any thread, even one that already
runs a loop, and keeps the HTTP connection pool alive between sends. A forked
worker (rq's work horse) notices the new process id and builds its own loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hmac
import json
import mimetypes
import os
import re
import threading
import time
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, ClassVar, TypeVar

import telegram
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram import error as tg_error
from telegram.request import HTTPXRequest

from adapters.base import (
    AdapterError,
    Attachment,
    ChannelAdapter,
    ContactEvent,
    InboundMessage,
    Location,
    OutboundMessage,
    ParseResult,
    PayloadError,
    SendError,
    SendResult,
    SignatureError,
    SimulatedRequest,
    WebhookRequest,
)
from adapters.common import (
    HTTP_POOL_SIZE,
    address_value,
    clean_text,
    coordinates,
    load_json,
    parse_epoch,
    split_text,
)

CHANNEL = "telegram"

DEFAULT_API_BASE_URL = "https://api.telegram.org"
"""Bot API host without the ``/bot<token>`` part; a local Bot API server or a stand-in replaces it."""

DEFAULT_TIMEOUT = 10.0
#: After getMe failed, how long `TelegramAdapter.bot_username` answers None without asking again.
USERNAME_RETRY_SECONDS = 300.0
"""Seconds for connect, read, write and pool waits; a send job retries on timeout."""

ALLOWED_UPDATES = ("message", "callback_query", "my_chat_member")
"""What set_webhook subscribes to: everything the parser takes in, nothing more (edits are ignored)."""

CHANNEL_POSTS = ("channel_post", "edited_channel_post")

MAX_TEXT = 4096  # sendMessage text, in UTF-16 code units after entity parsing
MAX_CAPTION = 1024  # sendPhoto caption
MAX_CALLBACK_DATA = 64  # bytes of callback_data per inline button

# my_chat_member new status -> our contact event.
MEMBER_EVENTS: dict[str, str] = {"kicked": "blocked", "member": "unblocked"}

T = TypeVar("T")


def utf16_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units, so an emoji outside the BMP counts 2."""
    return len(text.encode("utf-16-le")) // 2


def _seconds(value: int | float | dt.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


def not_for_us(data: Mapping[str, Any]) -> str | None:
    """Why an update is ignored, or None when it is for us: the one place these rules live.

    * Edits: Telegram delivers updates in order, so the original message was received and
      answered before its edit; taking the edit as new input would answer it again in the
      middle of the dialogue (a corrected description read as the reply to "which category?").
      The citizen's original words stay; a correction is a new message.
    * Channel posts, and messages in groups, supergroups or channels: complaints carry personal
      data, so the bot talks to citizens one to one only.
    * Messages from bots: no citizen behind them (and two bots can loop on each other).
    """
    for key in CHANNEL_POSTS:
        if key in data:
            return "a channel post is not handled (the bot talks to citizens one to one)"
    edit = data.get("edited_message")
    if isinstance(edit, dict):
        return f"an edit of message {edit.get('message_id')} is not taken as new input"
    message = data.get("message")
    if not isinstance(message, dict):
        return None
    chat = message.get("chat")
    if isinstance(chat, dict) and chat.get("type") != "private":
        return f"chat type {chat.get('type')!r} is not handled"
    sender = message.get("from")
    if isinstance(sender, dict) and sender.get("is_bot") is True:
        return "a message sent by a bot is not handled"
    return None


def send_error(exc: Exception) -> SendError:
    """Map python-telegram-bot's exceptions onto our retry decisions.

    Order matters: BadRequest and TimedOut are NetworkError subclasses in PTB.
    """
    text = str(exc)
    if isinstance(exc, tg_error.RetryAfter):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PTB 22.2+ warns about int vs timedelta here
            wait = _seconds(exc.retry_after)
        return SendError(f"Telegram flood control: {text}", retryable=True, code="429", retry_after=wait)
    if isinstance(exc, tg_error.Forbidden):
        # Blocked by the user, user deactivated, or the bot may not start the chat.
        return SendError(f"Telegram refused: {text}", retryable=False, code="403", unreachable=True)
    if isinstance(exc, tg_error.InvalidToken):
        return SendError(
            f"Telegram rejected the bot token: {exc.__class__.__name__}", retryable=False, code="401"
        )
    if isinstance(exc, tg_error.BadRequest):
        return SendError(f"Telegram bad request: {text}", retryable=False, code="400")
    if isinstance(exc, tg_error.TimedOut):
        return SendError(f"Telegram timed out: {text}", retryable=True, code="timeout")
    if isinstance(exc, tg_error.ChatMigrated):
        return SendError(f"chat migrated to {exc.new_chat_id}", retryable=False, code="migrated")
    if isinstance(exc, tg_error.Conflict):
        return SendError(f"Telegram conflict: {text}", retryable=False, code="409")
    if isinstance(exc, tg_error.NetworkError):
        # 5xx, 502 from a proxy, connection refused or reset.
        return SendError(f"Telegram unreachable or failing: {text}", retryable=True, code="network")
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return SendError("Telegram call did not finish in time", retryable=True, code="timeout")
    return SendError(f"Telegram error: {exc.__class__.__name__}: {text}", retryable=False)


class TelegramAdapter(ChannelAdapter):
    """The Telegram channel (``telegram``)."""

    name: ClassVar[str] = CHANNEL
    max_text_length: ClassVar[int] = MAX_TEXT
    menu_style: ClassVar[str] = "keyboard"

    def __init__(
        self,
        *,
        bot_token: str,
        webhook_secret: str | None = None,
        api_base_url: str = DEFAULT_API_BASE_URL,
        public_base_url: str = "http://localhost:5000",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.bot_token = bot_token
        self.webhook_secret = webhook_secret or None
        self.api_base_url = api_base_url.rstrip("/")
        self.public_base_url = public_base_url.rstrip("/")
        self.timeout = timeout
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._bot: telegram.Bot | None = None
        self._init_lock: asyncio.Lock | None = None
        self._username: str | None = None
        self._username_retry_at = 0.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TelegramAdapter | None:
        """Build from environment-style settings; None unless TELEGRAM_BOT_TOKEN is set."""
        token = (env.get("TELEGRAM_BOT_TOKEN") or "").strip()
        if not token:
            return None
        try:
            timeout = float(env.get("TELEGRAM_TIMEOUT") or DEFAULT_TIMEOUT)
        except ValueError:
            timeout = DEFAULT_TIMEOUT
        return cls(
            bot_token=token,
            webhook_secret=(env.get("TELEGRAM_WEBHOOK_SECRET") or "").strip() or None,
            api_base_url=env.get("TELEGRAM_API_BASE_URL") or DEFAULT_API_BASE_URL,
            public_base_url=env.get("PUBLIC_BASE_URL") or "http://localhost:5000",
            timeout=timeout,
        )

    # -- webhook -------------------------------------------------------------------------
    def verify(self, request: WebhookRequest) -> None:
        """Refuse a POST unless it carries the secret token we gave setWebhook."""
        if not self.webhook_secret:
            raise SignatureError("TELEGRAM_WEBHOOK_SECRET is not set: unsigned webhooks are never accepted")
        given = request.header("X-Telegram-Bot-Api-Secret-Token") or ""
        if not given:
            raise SignatureError("missing X-Telegram-Bot-Api-Secret-Token")
        if not hmac.compare_digest(given.encode("utf-8"), self.webhook_secret.encode("utf-8")):
            raise SignatureError("X-Telegram-Bot-Api-Secret-Token does not match")

    def parse(self, request: WebhookRequest) -> ParseResult:
        """Normalize one Update; see the module docstring for what is refused and what ignored."""
        try:
            data = load_json(request.body)
        except ValueError as exc:
            raise PayloadError(f"body is not valid JSON: {exc}") from exc
        return self.parse_update(data)

    def parse_update(self, data: Any) -> ParseResult:
        """Normalize one Update as decoded JSON: the one reading of an update, whether the webhook
        received it or `get_updates` fetched it (long polling), so both store the same message
        under the same provider id."""
        if not isinstance(data, dict):
            raise PayloadError("body is not a JSON object")
        if not isinstance(data.get("update_id"), int) or isinstance(data.get("update_id"), bool):
            raise PayloadError("update_id is missing or not an integer")
        result = ParseResult()
        reason = not_for_us(data)
        if reason is not None:
            result.ignored.append(f"update {data['update_id']}: {reason}")
            return result
        try:
            # PTB 22 accepts bot=None (since 21.4): nothing here needs a Bot, and no call is made.
            update = Update.de_json(data, None)
        except (KeyError, TypeError, ValueError) as exc:
            # A shape newer or older than our PTB (a poll without persistent_id, say): keep
            # what we can read from the JSON itself rather than lose a citizen's message.
            fallback = self._unreadable_message(data)
            if fallback is not None:
                result.messages.append(fallback)
            else:
                result.ignored.append(
                    f"update {data['update_id']} could not be read: {exc.__class__.__name__}"
                )
            return result
        if update.message is not None:
            inbound = self._message(update.message, data)
            if isinstance(inbound, str):
                result.ignored.append(f"update {update.update_id}: {inbound}")
            else:
                result.messages.append(inbound)
        elif update.callback_query is not None:
            result.messages.append(self._callback(update, data))
        elif update.my_chat_member is not None:
            event = self._member(update, data)
            if isinstance(event, str):
                result.ignored.append(f"update {update.update_id}: {event}")
            else:
                result.events.append(event)
        else:
            kinds = sorted(k for k in data if k != "update_id")
            result.ignored.append(f"update {update.update_id}: kind {', '.join(kinds) or 'none'} not handled")
        return result

    @staticmethod
    def _name(user: telegram.User | None) -> str | None:
        if user is None:
            return None
        full = " ".join(p for p in (user.first_name, user.last_name) if p)
        return clean_text(full or user.username or "") or None

    def _message(self, message: telegram.Message, data: Mapping[str, Any]) -> InboundMessage | str:
        """A message in a private chat (`not_for_us` has turned the others away), or the reason
        it is ignored (a location that is no place)."""
        chat = message.chat
        user = message.from_user
        fields: dict[str, Any] = {
            "channel": CHANNEL,
            "provider_message_id": f"{chat.id}:{message.message_id}",
            "sender": f"telegram:{chat.id}",
            "sender_name": self._name(user) or self._name_of_chat(chat),
            "timestamp": message.date,
            "language": user.language_code if user else None,
            "raw": dict(data),
        }
        caption = clean_text(message.caption)
        if message.text is not None:
            text = clean_text(message.text)
            fields["text"] = text
            command = next(
                (e for e in message.entities if e.type == "bot_command" and e.offset == 0),
                None,
            )
            if command is not None:
                name = text[: command.length].split("@", 1)[0]
                args = text[command.length :].strip()
                fields.update(kind="command", command=name, command_args=args or None)
            else:
                fields["kind"] = "text"
        elif message.photo:
            largest = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
            attachment = Attachment(
                kind="image",
                content_type="image/jpeg",
                media_id=largest.file_id,
                caption=caption or None,
                size=largest.file_size,
            )
            fields.update(kind="image", text=caption, attachments=(attachment,))
        elif message.venue is not None or message.location is not None:
            venue = message.venue
            pin = venue.location if venue is not None else message.location
            place = coordinates(pin.latitude, pin.longitude) if pin is not None else None
            if place is None:
                # Telegram itself never sends this; a forged or garbled pin is no place.
                return "location without valid latitude/longitude"
            location = Location(
                latitude=place[0],
                longitude=place[1],
                name=clean_text(venue.title) or None if venue is not None else None,
                address=clean_text(venue.address) or None if venue is not None else None,
            )
            label = "\n".join(p for p in (location.name, location.address) if p)
            fields.update(kind="location", location=location, text=label)
        elif message.contact is not None:
            contact = message.contact
            # The number is a third party's: fine in the stored text (private to operators of
            # the ticket); public surfaces redact numbers.
            label = clean_text(" ".join(p for p in (contact.first_name, contact.last_name) if p))
            number = clean_text(contact.phone_number)
            fields.update(kind="contacts", text=f"{label}: {number}" if label else number)
        elif message.web_app_data is not None:
            # What a Web App sent with sendData: text the citizen filled in there.
            fields.update(kind="text", text=clean_text(message.web_app_data.data))
        elif message.sticker is not None:
            sticker = message.sticker
            if sticker.is_video:
                content_type = "video/webm"
            elif sticker.is_animated:
                content_type = "application/x-tgsticker"
            else:
                content_type = "image/webp"
            attachment = Attachment(
                kind="sticker", content_type=content_type, media_id=sticker.file_id, size=sticker.file_size
            )
            fields.update(kind="sticker", text=clean_text(sticker.emoji), attachments=(attachment,))
        else:
            media = self._media(message)
            if media is None:
                # A poll, a dice, a game, a service message: kept for the operator, never dropped.
                fields.update(kind="unsupported", text=caption)
            else:
                kind, attachment = media
                fields.update(
                    kind=kind,
                    text=caption,
                    attachments=(
                        Attachment(
                            kind=kind,
                            content_type=attachment.content_type,
                            media_id=attachment.media_id,
                            filename=attachment.filename,
                            caption=caption or None,
                            size=attachment.size,
                        ),
                    ),
                )
        return InboundMessage(**fields)

    @staticmethod
    def _unreadable_message(data: Mapping[str, Any]) -> InboundMessage | None:
        """An "unsupported" message built from the raw JSON, when PTB cannot read the update."""
        raw_message = data.get("message")
        if not isinstance(raw_message, dict):
            return None
        chat = raw_message.get("chat")
        message_id = raw_message.get("message_id")
        if not isinstance(chat, dict) or not isinstance(message_id, int):
            return None
        chat_id = chat.get("id")
        if not isinstance(chat_id, int):
            return None
        user: dict[str, Any] = raw_message["from"] if isinstance(raw_message.get("from"), dict) else {}
        name = " ".join(str(p) for p in (user.get("first_name"), user.get("last_name")) if p)
        return InboundMessage(
            channel=CHANNEL,
            provider_message_id=f"{chat_id}:{message_id}",
            sender=f"telegram:{chat_id}",
            sender_name=clean_text(name or user.get("username") or "") or None,
            kind="unsupported",
            text=clean_text(raw_message.get("text") or raw_message.get("caption") or ""),
            timestamp=parse_epoch(raw_message.get("date")),
            language=user.get("language_code"),
            raw=dict(data),
        )

    @staticmethod
    def _name_of_chat(chat: telegram.Chat) -> str | None:
        full = " ".join(p for p in (chat.first_name, chat.last_name) if p)
        return clean_text(full or chat.username or "") or None

    @staticmethod
    def _media(message: telegram.Message) -> tuple[str, Attachment] | None:
        """The file of a voice, audio, video, video note, animation or document message."""
        candidates: list[tuple[str, Any, str | None]] = [
            ("voice", message.voice, "audio/ogg"),
            ("audio", message.audio, "audio/mpeg"),
            ("video", message.video, "video/mp4"),
            ("video", message.video_note, "video/mp4"),
            ("video", message.animation, "video/mp4"),
            ("document", message.document, None),
        ]
        for kind, item, default_type in candidates:
            if item is None:
                continue
            filename = getattr(item, "file_name", None)
            content_type = getattr(item, "mime_type", None) or default_type
            if content_type is None and filename:
                content_type = mimetypes.guess_type(filename)[0]
            return kind, Attachment(
                kind=kind,
                content_type=content_type,
                media_id=item.file_id,
                filename=filename,
                size=item.file_size,
            )
        return None

    def _callback(self, update: Update, data: Mapping[str, Any]) -> InboundMessage:
        query = update.callback_query
        assert query is not None
        user = query.from_user
        payload = clean_text(query.data or query.game_short_name or "")
        return InboundMessage(
            channel=CHANNEL,
            provider_message_id=f"cq:{query.id}",
            # In a private chat the chat id is the user's id; the press belongs to that user.
            sender=f"telegram:{user.id}",
            sender_name=self._name(user),
            kind="button",
            text=payload,
            button_payload=payload,
            callback_id=query.id,
            language=user.language_code,
            timestamp=query.message.date if query.message is not None else None,
            raw=dict(data),
        )

    @staticmethod
    def _member(update: Update, data: Mapping[str, Any]) -> ContactEvent | str:
        change = update.my_chat_member
        assert change is not None
        if change.chat.type != "private":
            return (
                f"membership change in a {data['my_chat_member']['chat'].get('type')!r} chat is not handled"
            )
        status = change.new_chat_member.status
        event = MEMBER_EVENTS.get(status)
        if event is None:
            return f"membership status {status!r} is not handled"
        return ContactEvent(
            channel=CHANNEL,
            address=f"telegram:{change.chat.id}",
            event=event,
            timestamp=change.date,
            raw=dict(data),
        )

    # -- the event loop and the Bot ---------------------------------------------------------
    def _new_bot(self) -> telegram.Bot:
        def request(pool: int) -> HTTPXRequest:
            return HTTPXRequest(
                connection_pool_size=pool,
                read_timeout=self.timeout,
                write_timeout=self.timeout,
                connect_timeout=self.timeout,
                pool_timeout=self.timeout,
                media_write_timeout=max(self.timeout, 20.0),
            )

        # PTB appends the token to both URLs: base_url + token + "/" + method.
        return telegram.Bot(
            self.bot_token,
            base_url=f"{self.api_base_url}/bot",
            base_file_url=f"{self.api_base_url}/file/bot",
            request=request(HTTP_POOL_SIZE),
            get_updates_request=request(1),
        )

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is not None and self._pid == os.getpid() and not self._loop.is_closed():
                return self._loop
            # First use, or a forked child: the parent's loop thread does not exist here.
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="telegram-bot-loop", daemon=True)
            thread.start()
            self._loop, self._thread, self._pid = loop, thread, os.getpid()
            self._bot = self._new_bot()
            self._init_lock = None
            return loop

    async def _ready_bot(self) -> telegram.Bot:
        """The Bot, initialized once (initialize() calls getMe, which also checks the token)."""
        if self._init_lock is None:
            self._init_lock = asyncio.Lock()
        async with self._init_lock:
            bot = self._bot
            assert bot is not None
            await bot.initialize()
            return bot

    def _run(self, work: Callable[[telegram.Bot], Awaitable[T]], extra_wait: float = 0.0) -> T:
        """Run ``work(bot)`` on the adapter's loop and wait for it; PTB errors become SendError.
        ``extra_wait``: seconds the call may legitimately take on top (a getUpdates long poll)."""
        loop = self._ensure_loop()

        async def call() -> T:
            bot = await self._ready_bot()
            return await work(bot)

        coroutine: Coroutine[Any, Any, T] = call()
        future = asyncio.run_coroutine_threadsafe(coroutine, loop)
        try:
            # PTB enforces the HTTP timeouts; this outer bound only guards against a stuck loop.
            return future.result(timeout=self.timeout * 4 + 5 + extra_wait)
        except SendError:
            raise
        except (tg_error.TelegramError, TimeoutError) as exc:
            future.cancel()
            raise send_error(exc) from exc

    # -- send --------------------------------------------------------------------------------
    @staticmethod
    def _chat_id(to: str) -> int:
        value = address_value(to).strip()
        if not re.fullmatch(r"-?\d{1,20}", value):
            raise SendError("not a Telegram chat address", retryable=False)
        return int(value)

    @staticmethod
    def _keyboard(message: OutboundMessage) -> InlineKeyboardMarkup | None:
        if not message.buttons:
            return None
        rows = []
        for button in message.buttons:
            if len(button.payload.encode("utf-8")) > MAX_CALLBACK_DATA:
                raise SendError(
                    f"button payload longer than {MAX_CALLBACK_DATA} bytes: {button.payload[:20]}…",
                    retryable=False,
                )
            rows.append([InlineKeyboardButton(button.title, callback_data=button.payload)])
        return InlineKeyboardMarkup(rows)

    def send(self, message: OutboundMessage) -> SendResult:
        """Send text (split over 4096), an inline keyboard under the last part, or a photo."""
        chat_id = self._chat_id(message.to)
        keyboard = self._keyboard(message)
        text = message.text or ""

        async def work(bot: telegram.Bot) -> list[int]:
            ids: list[int] = []
            remaining = text
            if message.media_url:
                fits = utf16_length(remaining) <= MAX_CAPTION
                sent = await bot.send_photo(
                    chat_id=chat_id,
                    photo=message.media_url,
                    caption=remaining if fits and remaining else None,
                    reply_markup=keyboard if fits else None,
                )
                ids.append(sent.message_id)
                if fits:
                    remaining = ""
            if remaining or (keyboard is not None and not ids):
                parts = split_text(remaining, MAX_TEXT, utf16_length) if remaining else ["\u2063"]
                for index, part in enumerate(parts):
                    last = index == len(parts) - 1
                    sent = await bot.send_message(
                        chat_id=chat_id, text=part, reply_markup=keyboard if last else None
                    )
                    ids.append(sent.message_id)
            return ids

        if not text and not message.media_url and keyboard is None:
            raise SendError("nothing to send: empty text", retryable=False)
        ids = [f"{chat_id}:{message_id}" for message_id in self._run(work)]
        return SendResult(provider_message_id=ids[0], segments=len(ids), extra_ids=tuple(ids[1:]))

    def acknowledge(self, message: InboundMessage) -> None:
        """Answer a callback query so the citizen's client stops showing a spinner on the button."""
        if not message.callback_id:
            return
        callback_id = message.callback_id

        async def work(bot: telegram.Bot) -> bool:
            return await bot.answer_callback_query(callback_id)

        self._run(work)

    def fetch_media(self, attachment: Attachment) -> tuple[bytes, str | None]:
        """getFile, then download ``file_path`` from the file base URL with the bot token."""
        if not attachment.media_id:
            raise SendError("attachment has no file id", retryable=False)
        file_id = attachment.media_id

        async def work(bot: telegram.Bot) -> tuple[bytes, str | None]:
            file = await bot.get_file(file_id)
            content = bytes(await file.download_as_bytearray())
            guessed = mimetypes.guess_type(file.file_path or "")[0]
            return content, attachment.content_type or guessed

        return self._run(work)

    def set_webhook(self, url: str, secret: str) -> bool:
        """Register ``url`` with Telegram, with our secret and the update kinds we parse."""

        async def work(bot: telegram.Bot) -> bool:
            return await bot.set_webhook(url=url, secret_token=secret, allowed_updates=list(ALLOWED_UPDATES))

        return self._run(work)

    def bot_username(self) -> str | None:
        """The bot's username, from getMe (the call PTB's initialize makes), asked once per
        process: deep links (``t.me/<username>?start=...``) need it. None when Telegram
        cannot be reached, so that a page offering the link shows none rather than failing;
        after a failure it is not asked again for a while, so that a page does not wait for an
        unreachable Bot API on every load (TELEGRAM_BOT_USERNAME avoids the call altogether)."""
        if self._username is None:
            if time.monotonic() < self._username_retry_at:
                return None
            try:

                async def work(bot: telegram.Bot) -> str:
                    return bot.username

                self._username = self._run(work)
            except SendError:
                self._username_retry_at = time.monotonic() + USERNAME_RETRY_SECONDS
                return None
        return self._username

    # -- long polling (hosts without a public URL) ------------------------------------------------
    def webhook_info(self) -> dict[str, Any]:
        """getWebhookInfo as Telegram answers it (``url`` is empty when no webhook is set)."""

        async def work(bot: telegram.Bot) -> dict[str, Any]:
            info = await bot.get_webhook_info()
            return {"url": info.url, "pending_update_count": info.pending_update_count}

        return self._run(work)

    def delete_webhook(self, drop_pending_updates: bool = False) -> bool:
        """deleteWebhook; pending updates are kept (for getUpdates) unless asked to drop them."""

        async def work(bot: telegram.Bot) -> bool:
            return await bot.delete_webhook(drop_pending_updates=drop_pending_updates)

        return self._run(work)

    def get_updates(self, offset: int | None, timeout: int, limit: int = 100) -> list[dict[str, Any]]:
        """One getUpdates long poll: the updates as decoded JSON, in order.

        Raw JSON, not PTB's ``Update`` objects: `parse_update` then reads exactly what the
        webhook would have been posted (``raw`` included), and one update PTB cannot read does
        not fail the whole batch. The call goes through PTB's own getUpdates connection, with
        a read timeout longer than the long poll's ``timeout``. A 409 (a webhook is set, or
        another poller runs) is raised as SendError code ``409``.
        """
        params: dict[str, Any] = {
            "timeout": int(timeout),
            "limit": int(limit),
            "allowed_updates": list(ALLOWED_UPDATES),
        }
        if offset is not None:
            params["offset"] = int(offset)

        async def work(bot: telegram.Bot) -> list[dict[str, Any]]:
            with warnings.catch_warnings():
                # PTB suggests Bot.get_updates, which returns parsed objects: the raw JSON is wanted.
                warnings.filterwarnings("ignore", message=".*Bot.getUpdates.*")
                found = await bot.do_api_request(
                    "getUpdates", api_kwargs=params, read_timeout=self.timeout + int(timeout)
                )
            return [dict(item) for item in found or [] if isinstance(item, dict)]

        return self._run(work, extra_wait=float(timeout))

    # -- simulate --------------------------------------------------------------------------------
    def simulate(
        self,
        sender: str,
        text: str,
        *,
        photo_url: str | None = None,
        location: tuple[float, float] | None = None,
        message_id: str | None = None,
    ) -> SimulatedRequest:
        """An Update exactly like Telegram's for a text, photo or location, with the secret header."""
        if not self.webhook_secret:
            raise SignatureError("TELEGRAM_WEBHOOK_SECRET is not set")
        value = address_value(sender).strip()
        if not re.fullmatch(r"\d{1,20}", value):
            raise AdapterError("simulate needs a Telegram chat id (telegram:12345)")
        chat_id = int(value)
        now = int(time.time())
        serial = int(time.time() * 1000) % 2_000_000_000
        if message_id is not None:
            if not message_id.isdigit():
                raise AdapterError("a Telegram message id is a number")
            serial = int(message_id)
        user = {"id": chat_id, "is_bot": False, "first_name": "Warga", "last_name": "Simulasi"}
        message: dict[str, Any] = {
            "message_id": serial,
            "from": {**user, "language_code": "id"},
            "chat": {**user, "type": "private"},
            "date": now,
        }
        del message["chat"]["is_bot"]
        if photo_url:
            token = re.sub(r"[^A-Za-z0-9]", "", json.dumps(photo_url))[-24:] or "photo"
            message["photo"] = [
                {
                    "file_id": f"AgACAgUAAxkBAAI{token}{size}",
                    "file_unique_id": f"AQAD{token[:10]}{size}",
                    "file_size": size * 70,
                    "width": size,
                    "height": size * 3 // 4,
                }
                for size in (90, 320, 800, 1280)
            ]
            if text:
                message["caption"] = text
        elif location is not None:
            message["location"] = {"latitude": location[0], "longitude": location[1]}
        else:
            message["text"] = text
            if text.startswith("/"):
                command = text.split(maxsplit=1)[0]
                message["entities"] = [{"offset": 0, "length": len(command), "type": "bot_command"}]
        body = {"update_id": serial, "message": message}
        raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
        return SimulatedRequest(
            method="POST",
            path="/webhooks/telegram",
            headers={
                "Content-Type": "application/json",
                "X-Telegram-Bot-Api-Secret-Token": self.webhook_secret,
            },
            body=raw,
        )

    # -- lifecycle ------------------------------------------------------------------------------
    def close(self) -> None:
        """Shut the Bot's HTTP clients down and stop the loop thread."""
        with self._lock:
            loop, thread, bot = self._loop, self._thread, self._bot
            self._loop = self._thread = self._bot = None
            owned = self._pid == os.getpid()
        if loop is None or not owned:
            return
        if bot is not None:
            # Closing must not fail a shutdown, whatever the HTTP client says.
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(bot.shutdown(), loop).result(timeout=self.timeout + 5)
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=5)
        loop.close()
