"""The normalized message types and the contract every channel adapter fulfils.

Floor 1 of the house: this module knows providers' shapes only through the
adapters that subclass `ChannelAdapter`; it imports nothing of ours, no Flask and
no database, so that the conversation engine and the tests can use these types
without dragging a web framework along.

Addresses are strings with a scheme, so that one contact can own several of them
and nobody has to guess what a bare number means:

* ``tel:+6281234567890``   an E.164 phone number reached by SMS (aggregator or Twilio)
* ``whatsapp:+6281234567890`` or ``whatsapp:<business-scoped id>`` a WhatsApp identity
* ``telegram:<chat id>``    a Telegram private chat
* ``sms:1708``              a shortcode or alphanumeric sender: never a phone number
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

# Delivery statuses of an outbound message, in the order they normally happen.
# Providers' own words are mapped onto these by a table in each adapter.
DELIVERY_STATUSES = ("pending", "queued", "sent", "delivered", "read", "failed")

# Rank used to ignore statuses that arrive out of order (read before delivered,
# delivered after read): a status never moves a message backwards, except to failed.
DELIVERY_RANK = {name: rank for rank, name in enumerate(DELIVERY_STATUSES)}


@dataclass(frozen=True)
class Attachment:
    """A media item. Providers give either a URL or an opaque id to fetch it by."""

    kind: str  # image, audio, video, document, sticker, voice
    content_type: str | None = None
    url: str | None = None
    media_id: str | None = None
    filename: str | None = None
    caption: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class Location:
    """A shared location pin, with whatever label the provider attached."""

    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class Segment:
    """One part of a concatenated SMS; the gateway reassembles the parts."""

    reference: str
    total: int
    number: int


@dataclass(frozen=True)
class InboundMessage:
    """One message from a citizen, the same shape whatever channel carried it.

    ``raw`` keeps the provider's payload for this message whole, so that a field
    we do not understand today is still there tomorrow.
    """

    channel: str
    provider_message_id: str
    sender: str
    text: str = ""
    # text, image, audio, video, document, sticker, voice, location, contacts, button,
    # reaction, command; anything else a provider sends is "unsupported": stored and shown,
    # never dropped.
    kind: str = "text"
    recipient: str | None = None
    sender_name: str | None = None
    attachments: tuple[Attachment, ...] = ()
    location: Location | None = None
    timestamp: datetime | None = None
    language: str | None = None  # a hint from the channel (Telegram language_code)
    button_payload: str | None = None  # what an interactive reply or button carried
    command: str | None = None  # "/start" and similar, without arguments
    command_args: str | None = None
    segment: Segment | None = None
    edited: bool = False
    callback_id: str | None = None  # Telegram callback_query id, to be answered
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StatusUpdate:
    """A provider's delivery receipt for a message we sent."""

    channel: str
    provider_message_id: str
    status: str  # one of DELIVERY_STATUSES
    error_code: str | None = None
    error_message: str | None = None
    timestamp: datetime | None = None
    recipient: str | None = None
    opted_out: bool = False  # the citizen asked the provider to stop (Twilio 21610)
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ContactEvent:
    """Something about a contact rather than a message: blocked us, unblocked us."""

    channel: str
    address: str
    event: str  # "blocked" or "unblocked"
    timestamp: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Button:
    """A quick-reply choice: a Telegram inline button or a WhatsApp reply button/list row."""

    payload: str
    title: str
    description: str | None = None


@dataclass(frozen=True)
class Template:
    """A pre-approved WhatsApp template, used outside the 24-hour window."""

    name: str
    language: str
    parameters: tuple[str, ...] = ()


@dataclass(frozen=True)
class OutboundMessage:
    """One reply to a citizen, before the adapter turns it into provider calls."""

    channel: str
    to: str
    text: str
    buttons: tuple[Button, ...] = ()
    menu_title: str | None = None  # the button that opens a WhatsApp list
    template: Template | None = None
    media_url: str | None = None
    reference: str | None = None  # our id, used as an idempotency key where supported
    author: str = "bot"  # "operator": a person's reply, which SMS caps at its own segment count


@dataclass(frozen=True)
class SendResult:
    """What the provider said when it accepted a message."""

    provider_message_id: str
    status: str = "sent"
    segments: int = 1
    extra_ids: tuple[str, ...] = ()  # ids of further parts when a text was split


@dataclass(frozen=True)
class WebhookRequest:
    """The parts of an HTTP request an adapter needs, free of any web framework.

    ``url`` is the public URL the provider called (PUBLIC_BASE_URL + path + query),
    which is what signatures are computed over.
    """

    method: str
    url: str
    path: str
    headers: Mapping[str, str]  # keys lower-cased
    body: bytes
    form: tuple[tuple[str, str], ...] = ()  # repeated keys kept, in order
    query: tuple[tuple[str, str], ...] = ()

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def query_dict(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value in self.query:
            out.setdefault(key, value)
        return out


@dataclass(frozen=True)
class WebhookResponse:
    """What the webhook answers the provider, once the request is stored."""

    status: int = 200
    body: str = ""
    content_type: str = "text/plain; charset=utf-8"


@dataclass
class ParseResult:
    """Everything one webhook call carried; one body may hold many items."""

    messages: list[InboundMessage] = field(default_factory=list)
    statuses: list[StatusUpdate] = field(default_factory=list)
    events: list[ContactEvent] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # reasons for parts we skipped
    response: WebhookResponse = field(default_factory=WebhookResponse)


@dataclass(frozen=True)
class SimulatedRequest:
    """A correctly signed provider webhook, built for `lapor-gateway simulate`."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes


class AdapterError(Exception):
    """Base of the errors adapters raise; the gateway maps them to HTTP answers."""


class SignatureError(AdapterError):
    """The request is not signed by the provider: the gateway answers 403."""


class PayloadError(AdapterError):
    """The body is malformed: the gateway answers 400 with this reason."""


class ChannelDisabled(AdapterError):
    """The channel has no credentials: the gateway answers 404."""


class SendError(AdapterError):
    """A send failed. ``retryable`` says whether trying again can help.

    Retryable: timeouts, connection errors, 5xx, 429 (with ``retry_after`` in
    seconds when the provider says). Final: invalid number, blocked, opted out.
    """

    def __init__(
        self,
        reason: str,
        *,
        retryable: bool,
        code: str | None = None,
        retry_after: float | None = None,
        unreachable: bool = False,
        window_closed: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.code = code
        self.retry_after = retry_after
        self.unreachable = unreachable  # the contact blocked us or opted out
        self.window_closed = window_closed  # WhatsApp 24-hour window (131047)


class ChannelAdapter:
    """What every channel adapter provides. Subclasses live in adapters/<channel>/.

    The gateway calls ``verify`` then ``parse`` for every webhook, ``send`` from a
    job, and ``fetch_media`` from a job. Nothing here touches a database.
    """

    name: ClassVar[str] = ""
    # Longest text one outbound message may carry on this channel, in characters.
    max_text_length: ClassVar[int] = 4096
    # How a menu is shown: "numbered" (plain text), "keyboard" (Telegram inline
    # keyboard) or "list" (WhatsApp interactive list / reply buttons).
    menu_style: ClassVar[str] = "numbered"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ChannelAdapter | None:
        """Build the adapter from environment-style settings; None when the channel is off."""
        raise NotImplementedError

    def verify(self, request: WebhookRequest) -> None:
        """Raise SignatureError unless the provider signed this request."""
        raise NotImplementedError

    def parse(self, request: WebhookRequest) -> ParseResult:
        """Turn a verified request into normalized items; raise PayloadError when malformed."""
        raise NotImplementedError

    def handshake(self, request: WebhookRequest) -> WebhookResponse:
        """Answer a GET verification handshake (only WhatsApp Cloud has one)."""
        raise ChannelDisabled("no handshake on this channel")

    def send(self, message: OutboundMessage) -> SendResult:
        """Deliver one message through the provider's API; raise SendError on failure."""
        raise NotImplementedError

    # Whether `find_sent` can ask the provider what it accepted (an optional capability).
    can_find_sent: ClassVar[bool] = False

    def find_sent(self, to: str, since: datetime, text: str) -> SendResult | None:
        """The message with ``text`` the provider accepted for ``to`` since ``since``, or None.

        Only for adapters with ``can_find_sent``. A worker killed during a send cannot know
        whether the provider took the message; where the provider can be asked, the gateway
        asks here instead of guessing (resending may duplicate it, holding may lose it).
        Raise SendError when the provider cannot be asked now."""
        raise NotImplementedError

    def fetch_media(self, attachment: Attachment) -> tuple[bytes, str | None]:
        """Download an attachment with the channel's credentials: (bytes, content type)."""
        raise NotImplementedError

    def simulate(
        self,
        sender: str,
        text: str,
        *,
        photo_url: str | None = None,
        location: tuple[float, float] | None = None,
        message_id: str | None = None,
    ) -> SimulatedRequest:
        """Build a correctly signed inbound webhook as the provider would send it."""
        raise NotImplementedError

    def acknowledge(self, message: InboundMessage) -> None:
        """Tell the provider we handled ``message`` where it expects that (Telegram's
        answerCallbackQuery). Called from a job after the message is stored; default no-op."""

    def close(self) -> None:
        """Release clients and event loops held for reuse across sends."""
