"""The database schema: the source of truth for everything the gateway knows.

Three state axes never share a column (see ARCHITECTURE.md): a conversation's
``intake_state`` (the bot dialogue), a ticket's ``status`` (the operators'
workflow) and each message's ``delivery_status``.

Redis only carries jobs; every job stands for a row in ``jobs`` written in the
same transaction as the work it belongs to, so a lost Redis loses nothing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Now, as an aware UTC datetime: the only kind of time stored."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC, on SQLite and PostgreSQL alike.

    SQLite has no time zones; without this a value read back would compare
    unequal to the aware value written.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}

    if TYPE_CHECKING:
        # Every model here maps one table (none a join or a select), so its ``__table__`` is a
        # `Table`, with ``insert()``, ``name`` and the rest; SQLAlchemy types it for any mapping.
        __table__: ClassVar[Table]


# --------------------------------------------------------------------------- agencies and people
class Agency(Base):
    """An OPD (or the coordinator) as configured in config/agencies.yaml."""

    __tablename__ = "agencies"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    is_coordinator: Mapped[bool] = mapped_column(Boolean, default=False)
    categories: Mapped[list[Any]] = mapped_column(JSON, default=list)
    areas: Mapped[list[Any]] = mapped_column(JSON, default=list)
    forward: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Operator(Base):
    """A person who logs into the inbox: admin, coordinator or agency operator."""

    __tablename__ = "operators"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))  # admin | coordinator | agency
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), nullable=True)
    language: Mapped[str] = mapped_column(String(8), default="id")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(nullable=True)

    agency: Mapped[Agency | None] = relationship()


class InboxSession(Base):
    """One logged-in inbox session, so that logging out ends it on the server too.

    The cookie carries a random session id; only its SHA-256 is stored here. A
    request whose cookie names no row is logged out, so a copy of the cookie made
    before logout (a shared computer, a stolen cookie) is refused after it.
    """

    __tablename__ = "inbox_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie's id
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ApiToken(Base):
    """A bearer token for /api/v1: stored as a hash, shown once, scoped to all or one agency."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)

    agency: Mapped[Agency | None] = relationship()


# --------------------------------------------------------------------------- citizens
class Contact(Base):
    """A citizen, who may reach us through several addresses (SMS, WhatsApp, Telegram)."""

    __tablename__ = "contacts"
    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    language: Mapped[str] = mapped_column(String(8), default="id")
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    anonymized_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    addresses: Mapped[list[ContactAddress]] = relationship(back_populates="contact")


class ContactAddress(Base):
    """One address of a contact: ``tel:+62...``, ``whatsapp:+62...`` or ``whatsapp:<bsuid>``."""

    __tablename__ = "contact_addresses"
    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(String(255), unique=True)
    channel: Mapped[str] = mapped_column(String(32))  # the channel last used with this address
    last_inbound_at: Mapped[datetime | None] = mapped_column(nullable=True)  # WhatsApp 24-hour window
    unreachable: Mapped[bool] = mapped_column(Boolean, default=False)  # blocked us / opted out at provider
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    contact: Mapped[Contact] = relationship(back_populates="addresses")


class Conversation(Base):
    """The bot dialogue with one contact: its intake state and draft, serialized by the engine."""

    __tablename__ = "conversations"
    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), unique=True)
    intake_state: Mapped[str] = mapped_column(String(32), default="idle")
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[str | None] = mapped_column(String(32), nullable=True)  # where the citizen last wrote
    address: Mapped[str | None] = mapped_column(String(255), nullable=True)
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class IncompleteDraft(Base):
    """A draft the citizen left unfinished until it expired, kept for operators."""

    __tablename__ = "incomplete_drafts"
    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str | None] = mapped_column(String(32), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --------------------------------------------------------------------------- tickets
class Ticket(Base):
    """A complaint in the LAPOR! lifecycle. Its status changes only through named transitions."""

    __tablename__ = "tickets"
    id: Mapped[int] = mapped_column(primary_key=True)
    tracking: Mapped[str] = mapped_column(String(8), unique=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(32), default="unverified", index=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), nullable=True, index=True)
    category: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    location_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    area: Mapped[str | None] = mapped_column(String(128), nullable=True)  # kecamatan, when known
    privacy: Mapped[str] = mapped_column(String(16), default="anonymous")  # public|anonymous|confidential
    privacy_chosen: Mapped[bool] = mapped_column(Boolean, default=False)  # by the citizen
    channel: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    address: Mapped[str | None] = mapped_column(String(255), nullable=True)  # where updates go
    language: Mapped[str] = mapped_column(String(8), default="id")
    source: Mapped[str] = mapped_column(String(16), default="message")  # message|operator|open311|api
    consent_recorded: Mapped[bool] = mapped_column(Boolean, default=False)
    assigned_operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"), nullable=True)
    deadline: Mapped[date | None] = mapped_column(Date, nullable=True)
    overdue: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    escalated_at: Mapped[datetime | None] = mapped_column(nullable=True)
    has_unread: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    first_response_at: Mapped[datetime | None] = mapped_column(nullable=True)
    dispatched_at: Mapped[datetime | None] = mapped_column(nullable=True)
    #: When a person confirmed the current disposition (the coordinator disposing it, or the agency's
    #: first step on a ticket the system disposed); None while unverified. Gates what is public.
    verified_at: Mapped[datetime | None] = mapped_column(nullable=True, index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)  # resolved and past the window
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # attachments, extra fields

    contact: Mapped[Contact | None] = relationship()
    agency: Mapped[Agency | None] = relationship()
    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id", cascade="all, delete-orphan"
    )


class TicketEvent(Base):
    """One audit row per ticket change: who, from, to, note, when. Notes live here too."""

    __tablename__ = "ticket_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    to_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    actor_type: Mapped[str] = mapped_column(String(16))  # operator|citizen|system|api
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    actor_label: Mapped[str | None] = mapped_column(String(255), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    internal: Mapped[bool] = mapped_column(Boolean, default=False)  # never shown to the citizen
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    ticket: Mapped[Ticket] = relationship(back_populates="events")


class TicketForward(Base):
    """One delivery of a ticket to one target of an agency; unique so a target gets it once."""

    __tablename__ = "ticket_forwards"
    __table_args__ = (UniqueConstraint("ticket_id", "agency_id", "target"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    target: Mapped[str] = mapped_column(String(16))  # inbox | open311 | webhook
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|delivered|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(nullable=True)


class CannedResponse(Base):
    """A reply operators insert by short code."""

    __tablename__ = "canned_responses"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8), default="id")


class AuditEntry(Base):
    """Operator actions and every view of a confidential ticket, for admins to read."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"), nullable=True, index=True)
    actor_label: Mapped[str | None] = mapped_column(String(255), nullable=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), nullable=True
    )
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


# --------------------------------------------------------------------------- messages
class Message(Base):
    """Every inbound and outbound message, normalized, with the provider's raw payload.

    ``(channel, direction, provider_message_id)`` is unique, in the database rather than
    in a Redis TTL, so a provider retrying days later (WhatsApp: up to 7) is still
    recognised as a duplicate. The direction is part of it because a provider may give
    a message in and a message out the same id (an aggregator's two counters).
    """

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel", "direction", "provider_message_id"),
        Index("ix_messages_contact_created", "contact_id", "id"),
        Index("ix_messages_pending_inbound", "direction", "processed_at"),
        # A contact's unprocessed messages, its recent inbound count, its held-back notices.
        Index("ix_messages_contact_direction", "contact_id", "direction", "processed_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    channel: Mapped[str] = mapped_column(String(32))
    provider_message_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), nullable=True
    )
    address: Mapped[str] = mapped_column(String(255))  # sender (in) or recipient (out)
    peer: Mapped[str | None] = mapped_column(String(255), nullable=True)  # our number or shortcode
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(32), default="text")
    text: Mapped[str] = mapped_column(Text, default="")
    sender_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    attachments: Mapped[list[Any]] = mapped_column(JSON, default=list)
    location: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    button_payload: Mapped[str | None] = mapped_column(String(255), nullable=True)
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    author: Mapped[str] = mapped_column(String(16), default="citizen")  # citizen|bot|operator|system
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"), nullable=True)
    # inbound: when the conversation engine consumed it (NULL = still to do)
    processed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # inbound multipart SMS: parts wait here until complete or timed out
    segment_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    segment_total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    segment_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # outbound delivery
    delivery_status: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(128), nullable=True, unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # buttons, template, media_url
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    provider_timestamp: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)
    status_at: Mapped[datetime | None] = mapped_column(nullable=True)


class DeliveryReceipt(Base):
    """A status update that arrived before we knew the message (or any status), kept raw."""

    __tablename__ = "delivery_receipts"
    __table_args__ = (Index("ix_receipts_lookup", "channel", "provider_message_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    provider_message_id: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    applied: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --------------------------------------------------------------------------- jobs (outbox)
class Job(Base):
    """A unit of background work, recorded in the same transaction as what it stands for.

    rq carries ``Job.id``; the reconciler re-enqueues rows that are due but not
    done, so a Redis restart or a killed worker loses nothing. ``dedupe_key``
    makes "enqueue once" a database guarantee.
    """

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_due", "status", "run_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|running|done|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=8)
    run_at: Mapped[datetime] = mapped_column(default=utcnow)
    enqueued_at: Mapped[datetime | None] = mapped_column(nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(128), nullable=True, unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --------------------------------------------------------------------------- citizens' voice (issue 20)
class TicketRating(Base):
    """The satisfaction question asked once when a ticket is resolved, and the citizen's answer.

    One row per ticket (asking once is a database guarantee). The agency and category are
    those of the resolution, so a later change of category does not move a past rating.
    ``expires_at`` is the end of the reopen window's last local day: the question closes then.
    """

    __tablename__ = "ticket_ratings"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), unique=True)
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), nullable=True, index=True
    )
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), nullable=True, index=True)
    category: Mapped[str | None] = mapped_column(String(64), nullable=True)
    channel: Mapped[str | None] = mapped_column(String(32), nullable=True)
    asked_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rated_at: Mapped[datetime | None] = mapped_column(nullable=True, index=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)  # never published
    #: A low rating with a comment: the coordinator is offered a reopen until they act on it.
    reopen_offered: Mapped[bool] = mapped_column(Boolean, default=False)


class TicketSupporter(Base):
    """A citizen who reported the same problem as a ticket (merged duplicate, or IKUT/JOIN), or
    who only follows it (``role`` "follower": the web form's "follow on Telegram" link).

    Each keeps their own privacy choice and their own channel and language: the ticket's
    status updates and resolution reach them there. ``merged_from`` is the duplicate
    ticket archived into this one, when they came by a merge.
    """

    __tablename__ = "ticket_supporters"
    __table_args__ = (UniqueConstraint("ticket_id", "contact_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), nullable=True, index=True
    )
    channel: Mapped[str | None] = mapped_column(String(32), nullable=True)
    address: Mapped[str | None] = mapped_column(String(255), nullable=True)
    language: Mapped[str] = mapped_column(String(8), default="id")
    privacy: Mapped[str] = mapped_column(String(16), default="anonymous")
    source: Mapped[str] = mapped_column(String(16))  # merge | join | follow
    #: ``supporter``: reported the problem too, counted as a reporter. ``follower``: only hears
    #: the updates (a web form's citizen who followed on Telegram); never counted.
    role: Mapped[str] = mapped_column(String(16), default="supporter")
    merged_from: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
