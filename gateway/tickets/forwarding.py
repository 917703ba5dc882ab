"""Delivering a disposed ticket to its agency: the inbox always, Open311 or a webhook where configured.

One `TicketForward` row per (ticket, agency, target), unique in the database, so
a target is sent a ticket at most once however often it is disposed there. The
inbox target is delivered the moment the ticket is disposed (the agency's inbox
reads the database). External targets are called by the ``forward_ticket`` job,
outside any transaction, with an ``Idempotency-Key`` header that stays the same
on every retry: should the target have stored a ticket whose answer we never
received (a timeout, a worker killed mid-call), it recognises the retry.

Retries: after 5 minutes, then every 30 minutes, for at least 24 hours; then the
forward is marked failed and the ticket's history shows it. Configuration in
config/agencies.yaml (``forward``), secrets in environment variables it names:

    forward:
      open311: {endpoint: https://.../requests.json, api_key_env: DPUPR_311_KEY,
                service_code: "001", service_codes: {jalan: "002"}}
      webhook: {url: https://.../lapor, secret_env: DPUPR_WEBHOOK_SECRET}
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import requests
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.attachments.links import signed_url
from gateway.attachments.store import names_in, ticket_files
from gateway.store.models import Agency, Contact, Message, Ticket, TicketEvent, TicketForward, utcnow
from gateway.work import RetryLater, record_job
from gateway.work.registry import GiveUp

if TYPE_CHECKING:
    from gateway.runtime import Runtime

log = logging.getLogger(__name__)

INBOX = "inbox"
OPEN311 = "open311"
WEBHOOK = "webhook"
EXTERNAL_TARGETS = (OPEN311, WEBHOOK)

#: First retry after a failed delivery, in seconds.
RETRY_FIRST = 300.0
#: Every later retry, in seconds.
RETRY_EVERY = 1800.0
#: Keep retrying at least this long before the forward is marked failed.
RETRY_FOR = timedelta(hours=24)
#: How long a forward waits for the ticket's photos to finish downloading (the media job
#: retries a slow provider); past that it goes without the ones still missing.
MEDIA_WAIT = timedelta(minutes=15)
#: Seconds between two looks at downloads still running.
MEDIA_POLL = 30.0
#: (connect, read) timeouts of one delivery, in seconds.
TIMEOUT = (5.0, 20.0)
#: Header carrying the HMAC-SHA256 of the webhook body: ``sha256=<hex>``.
SIGNATURE_HEADER = "X-Lapor-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
USER_AGENT = "lapor-gateway/0.1 (+forward)"


def targets_for(agency: Agency) -> list[str]:
    """The inbox, plus each external target the agency's config names."""
    forward = agency.forward or {}
    return [INBOX] + [t for t in EXTERNAL_TARGETS if forward.get(t)]


def schedule_forward(
    session: Session, runtime: Runtime, ticket: Ticket, agency: Agency | None
) -> list[TicketForward]:
    """Create the forward rows of ``ticket`` to ``agency`` and record the delivery job (same transaction).

    Rows that exist already (the ticket came back to an agency that has it) are
    left alone: that target got it, or is still getting it.
    """
    if agency is None:
        return []
    session.flush()
    created: list[TicketForward] = []
    now = utcnow()
    for target in targets_for(agency):
        exists = session.scalar(
            select(TicketForward.id).where(
                TicketForward.ticket_id == ticket.id,
                TicketForward.agency_id == agency.id,
                TicketForward.target == target,
            )
        )
        if exists is not None:
            continue
        row = TicketForward(
            ticket_id=ticket.id,
            agency_id=agency.id,
            target=target,
            status="delivered" if target == INBOX else "pending",
            attempts=0,
            idempotency_key=uuid.uuid4().hex,
            delivered_at=now if target == INBOX else None,
            created_at=now,
        )
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:
            continue  # another transaction created it first: that one stands
        created.append(row)
    if any(r.target != INBOX for r in created):
        record_job(
            session,
            "forward_ticket",
            {"ticket_id": ticket.id, "agency_id": agency.id, "since": now.isoformat()},
            dedupe_key=f"forward:{ticket.id}:{agency.id}",
            max_attempts=1000,  # the 24-hour window ends it, not a count
        )
    return created


def retry_failed(session: Session, ticket: Ticket, agency_id: int) -> int:
    """Put failed forwards of ``ticket`` back to pending with a fresh 24-hour window."""
    rows = session.scalars(
        select(TicketForward).where(
            TicketForward.ticket_id == ticket.id,
            TicketForward.agency_id == agency_id,
            TicketForward.status == "failed",
        )
    ).all()
    for row in rows:
        row.status = "pending"
        row.last_error = None
    if rows:
        now = utcnow()
        record_job(
            session,
            "forward_ticket",
            {"ticket_id": ticket.id, "agency_id": agency_id, "since": now.isoformat()},
            dedupe_key=f"forward:{ticket.id}:{agency_id}:retry:{now.timestamp():.0f}",
            max_attempts=1000,
        )
    return len(rows)


# --------------------------------------------------------------------------- payloads
@dataclass(frozen=True)
class Delivery:
    """One external call to make, built inside a transaction and made outside it."""

    forward_id: int
    target: str
    url: str
    key: str
    data: dict[str, Any] | None = None  # form fields (Open311)
    body: bytes | None = None  # JSON (webhook)
    headers: dict[str, str] | None = None
    error: str | None = None  # a configuration problem found before calling


def _media_urls(session: Session, runtime: Runtime, ticket: Ticket) -> list[str]:
    """Signed, expiring links to the ticket's stored files (`gateway.attachments.links`).

    Signed whatever the ticket's privacy: the agency it is disposed to may see
    its photos, while the unsigned ``/media/`` answers only for public tickets.
    """
    return [signed_url(runtime.settings, name) for name in ticket_files(session, ticket)]


def media_downloading(session: Session, ticket: Ticket, now: datetime | None = None) -> bool:
    """Whether a file of the ticket's messages is still being downloaded by the media job.

    A forward built meanwhile would reach the agency without that photo, and the external
    targets get a ticket once. Only recent messages count (`MEDIA_WAIT`): a download that
    never finishes does not hold the ticket back for ever.
    """
    since = (now or utcnow()) - MEDIA_WAIT
    rows = session.scalars(
        select(Message.attachments).where(
            Message.ticket_id == ticket.id, Message.direction == "in", Message.created_at >= since
        )
    )
    return any(
        not item.get("stored_path") and not item.get("fetch_error")
        for attachments in rows
        for item in attachments or []
        if isinstance(item, dict)
    )


def _reporter(session: Session, ticket: Ticket) -> dict[str, Any] | None:
    """Who reported, for public tickets only: anonymous and confidential reporters never leave the gateway."""
    from gateway.tickets.service import Actor
    from gateway.tickets.visibility import reveals_reporter

    if not reveals_reporter(Actor.forward_target(ticket.agency_id), ticket):
        return None
    contact = session.get(Contact, ticket.contact_id) if ticket.contact_id is not None else None
    return {
        "name": contact.display_name if contact else None,
        "address": ticket.address,
        "channel": ticket.channel,
    }


def _open311(
    session: Session, runtime: Runtime, ticket: Ticket, row: TicketForward, config: dict[str, Any]
) -> Delivery:
    url = str(config.get("endpoint") or "")
    key_env = config.get("api_key_env")
    api_key = runtime.settings.get(str(key_env)) if key_env else None
    codes = config.get("service_codes") or {}
    service_code = str(codes.get(ticket.category) or config.get("service_code") or ticket.category or "")
    description = f"[LAPOR #{ticket.tracking}] {ticket.description}"
    if ticket.location_text:
        description += f"\nLokasi: {ticket.location_text}"
    data: dict[str, Any] = {"service_code": service_code, "description": description[:4000]}
    if api_key:
        data["api_key"] = api_key
    if ticket.latitude is not None and ticket.longitude is not None:
        data["lat"] = f"{ticket.latitude:.6f}"
        data["long"] = f"{ticket.longitude:.6f}"
    else:
        data["address_string"] = ticket.location_text or runtime.catalog.city
    media = _media_urls(session, runtime, ticket)
    if media:
        data["media_url"] = media[0]
    reporter = _reporter(session, ticket)
    if reporter and reporter.get("name"):
        data["first_name"] = reporter["name"]
    error = None
    if not url:
        error = "open311 endpoint not configured"
    elif key_env and not api_key:
        error = f"environment variable {key_env} (Open311 api_key) is not set"
    return Delivery(
        forward_id=row.id,
        target=OPEN311,
        url=url,
        key=row.idempotency_key,
        data=data,
        headers={IDEMPOTENCY_HEADER: row.idempotency_key, "User-Agent": USER_AGENT},
        error=error,
    )


def ticket_document(session: Session, runtime: Runtime, ticket: Ticket, agency: Agency) -> dict[str, Any]:
    """The ticket as a forward target sees it: no reporter unless the ticket is public."""
    category = runtime.catalog.category(ticket.category)
    return {
        "tracking": ticket.tracking,
        "status": ticket.status,
        "agency": agency.code,
        "category": ticket.category,
        "category_name": category.name("id") if category else None,
        "description": ticket.description,
        "location": {
            "text": ticket.location_text,
            "latitude": ticket.latitude,
            "longitude": ticket.longitude,
            "area": ticket.area,
        },
        "privacy": ticket.privacy,
        "media_urls": _media_urls(session, runtime, ticket),
        "reporter": _reporter(session, ticket),
        "created_at": ticket.created_at.isoformat(),
        "dispatched_at": ticket.dispatched_at.isoformat() if ticket.dispatched_at else None,
        "deadline": ticket.deadline.isoformat() if ticket.deadline else None,
    }


def sign(secret: str, body: bytes) -> str:
    """The X-Lapor-Signature value: ``sha256=`` and the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _webhook(
    session: Session,
    runtime: Runtime,
    ticket: Ticket,
    agency: Agency,
    row: TicketForward,
    config: dict[str, Any],
) -> Delivery:
    document = {
        "event": "ticket.dispatched",
        "idempotency_key": row.idempotency_key,
        "ticket": ticket_document(session, runtime, ticket, agency),
    }
    return _signed_post(runtime, row, config, document, row.idempotency_key)


def _signed_post(
    runtime: Runtime, row: TicketForward, config: dict[str, Any], document: dict[str, Any], key: str
) -> Delivery:
    """``document`` as the agency's webhook receives it: JSON, signed, with its idempotency key."""
    url = str(config.get("url") or "")
    secret_env = config.get("secret_env")
    secret = runtime.settings.get(str(secret_env)) if secret_env else None
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        IDEMPOTENCY_HEADER: key,
        "X-Lapor-Event": str(document["event"]),
        "User-Agent": USER_AGENT,
    }
    error = None
    if not url:
        error = "webhook url not configured"
    elif not secret:
        error = f"environment variable {secret_env or '(secret_env)'} (webhook secret) is not set"
    else:
        headers[SIGNATURE_HEADER] = sign(secret, body)
    return Delivery(
        forward_id=row.id,
        target=WEBHOOK,
        url=url,
        key=key,
        body=body,
        headers=headers,
        error=error,
    )


# --------------------------------------------------------------------------- calling
def _call(delivery: Delivery) -> tuple[bool, str | None, str | None]:
    """Make one call: (delivered, external id, error)."""
    if delivery.error:
        return False, None, delivery.error
    try:
        if delivery.target == OPEN311:
            response = requests.post(
                delivery.url, data=delivery.data, headers=delivery.headers, timeout=TIMEOUT
            )
        else:
            response = requests.post(
                delivery.url, data=delivery.body, headers=delivery.headers, timeout=TIMEOUT
            )
    except requests.RequestException as exc:
        return False, None, f"{type(exc).__name__}: {exc}"[:500]
    if not 200 <= response.status_code < 300:
        return False, None, f"HTTP {response.status_code}: {response.text[:300]}"
    return True, _external_id(delivery.target, response), None


def _external_id(target: str, response: requests.Response) -> str | None:
    """Open311 answers ``[{"service_request_id": ...}]`` (or a ``token`` to poll later)."""
    try:
        body = response.json()
    except ValueError:
        return None
    item = body[0] if isinstance(body, list) and body else body
    if not isinstance(item, dict):
        return None
    for key in ("service_request_id", "token", "id"):
        if item.get(key) not in (None, ""):
            return str(item[key])
    return None


def retry_delay(attempts: int) -> float:
    """5 minutes after the first failure, then every 30."""
    return RETRY_FIRST if attempts <= 1 else RETRY_EVERY


def forward_ticket(runtime: Runtime, payload: dict[str, Any]) -> None:
    """Deliver the pending external forwards of one (ticket, agency). Safe to run twice."""
    ticket_id, agency_id = int(payload["ticket_id"]), int(payload["agency_id"])
    since = datetime.fromisoformat(payload["since"]) if payload.get("since") else None
    with runtime.db.session() as session:
        ticket = session.get(Ticket, ticket_id)
        agency = session.get(Agency, agency_id)
        if ticket is None or agency is None:
            return
        if media_downloading(session, ticket):
            raise RetryLater("waiting for the ticket's photos to download", MEDIA_POLL)
        rows = session.scalars(
            select(TicketForward).where(
                TicketForward.ticket_id == ticket_id,
                TicketForward.agency_id == agency_id,
                TicketForward.status == "pending",
                TicketForward.target.in_(EXTERNAL_TARGETS),
            )
        ).all()
        sent_media = ticket_files(session, ticket)  # what the payloads below carry
        deliveries: list[Delivery] = []
        for row in rows:
            config = dict((agency.forward or {}).get(row.target) or {})
            if row.target == OPEN311:
                deliveries.append(_open311(session, runtime, ticket, row, config))
            else:
                deliveries.append(_webhook(session, runtime, ticket, agency, row, config))
            row.attempts += 1
        since = since or min((r.created_at for r in rows), default=utcnow())
    if not deliveries:
        return
    results = {d.forward_id: (d, *_call(d)) for d in deliveries}
    now = utcnow()
    gave_up = False
    max_attempts = 0
    with runtime.db.session() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        for forward_id, (delivery, delivered, external_id, error) in results.items():
            found = session.get(TicketForward, forward_id)
            if found is None or found.status != "pending":
                continue
            row = found
            if delivered:
                row.status, row.delivered_at, row.external_id, row.last_error = (
                    "delivered",
                    now,
                    external_id,
                    None,
                )
                session.add(
                    _internal_event(
                        ticket,
                        "forwarded",
                        f"{delivery.target}: {external_id or 'ok'}",
                        {"target": delivery.target, "external_id": external_id, "media": list(sent_media)},
                    )
                )
                continue
            row.last_error = error
            max_attempts = max(max_attempts, row.attempts)
            if now - since >= RETRY_FOR:
                row.status = "failed"
                gave_up = True
                failures = sorted({*((ticket.data or {}).get("forward_failures") or []), delivery.target})
                ticket.data = {**(ticket.data or {}), "forward_failures": failures}
                session.add(
                    _internal_event(
                        ticket,
                        "forward_failed",
                        f"{delivery.target}: {error}",
                        {"target": delivery.target, "error": error, "attempts": row.attempts},
                    )
                )
            else:
                log.warning(
                    "forward failed, will retry",
                    extra={"ticket": ticket.tracking, "target": delivery.target, "attempt": row.attempts},
                )
        still_pending = session.scalar(
            select(TicketForward.id).where(
                TicketForward.ticket_id == ticket_id,
                TicketForward.agency_id == agency_id,
                TicketForward.status == "pending",
                TicketForward.target.in_(EXTERNAL_TARGETS),
            )
        )
    if still_pending is not None:
        raise RetryLater("forward target did not accept the ticket", retry_delay(max_attempts))
    if gave_up:
        raise GiveUp("forward target kept failing for 24 hours; see the ticket's history")


def _internal_event(ticket: Ticket, action: str, note: str, data: dict[str, Any]) -> TicketEvent:
    return TicketEvent(
        ticket=ticket,
        action=action,
        from_status=ticket.status,
        to_status=ticket.status,
        actor_type="system",
        actor_label="Sistem",
        note=note[:1000],
        internal=True,
        data=data,
        created_at=utcnow(),
    )


# --------------------------------------------------------------------------- photos sent later
MEDIA_ADDED = "ticket.media_added"


def schedule_media_update(session: Session, message: Message) -> None:
    """A later message of a ticket has stored files: send them on to the webhook that has the ticket.

    Called where either half becomes true (the media job stored the files; the conversation
    linked the message to its ticket), once per message (the job's dedupe key). Open311
    (GeoReport v2) has no way to add media to a request: those agencies see the photo in the
    inbox, which every agency has.
    """
    if message.ticket_id is None or not names_in(message.attachments):
        return
    delivered = session.scalar(
        select(TicketForward.id)
        .join(Ticket, Ticket.id == TicketForward.ticket_id)
        .where(
            TicketForward.ticket_id == message.ticket_id,
            TicketForward.agency_id == Ticket.agency_id,
            TicketForward.target == WEBHOOK,
            TicketForward.status == "delivered",
        )
        .limit(1)
    )
    if delivered is None:
        return  # not forwarded yet: the forward itself will carry the files
    record_job(
        session,
        "forward_media",
        {"ticket_id": message.ticket_id, "message_id": message.id, "since": utcnow().isoformat()},
        dedupe_key=f"forward-media:{message.id}",
        max_attempts=1000,  # the 24-hour window ends it, as for a forward
    )


def _already_sent(ticket: Ticket) -> set[str]:
    """Files the ticket's webhook deliveries carried (recorded on their history events)."""
    sent: set[str] = set()
    for event in ticket.events:
        data = event.data or {}
        if event.action in ("forwarded", "media_forwarded") and data.get("target") == WEBHOOK:
            sent.update(str(n) for n in data.get("media") or [])
    return sent


def forward_media(runtime: Runtime, payload: dict[str, Any]) -> None:
    """POST the files of one later message to the ticket's agency's webhook, signed, once."""
    ticket_id, message_id = int(payload["ticket_id"]), int(payload["message_id"])
    since = datetime.fromisoformat(payload["since"]) if payload.get("since") else utcnow()
    with runtime.db.session() as session:
        ticket, message = session.get(Ticket, ticket_id), session.get(Message, message_id)
        if ticket is None or message is None or message.ticket_id != ticket_id or ticket.agency is None:
            return
        row = session.scalar(
            select(TicketForward).where(
                TicketForward.ticket_id == ticket_id,
                TicketForward.agency_id == ticket.agency_id,
                TicketForward.target == WEBHOOK,
                TicketForward.status == "delivered",
            )
        )
        names = [n for n in names_in(message.attachments) if n not in _already_sent(ticket)]
        if row is None or not names:
            return
        key = f"{row.idempotency_key}:m{message_id}"
        document: dict[str, Any] = {
            "event": MEDIA_ADDED,
            "idempotency_key": key,
            "ticket": {"tracking": ticket.tracking, "agency": ticket.agency.code},
            "media_urls": [signed_url(runtime.settings, name) for name in names],
        }
        config = dict((ticket.agency.forward or {}).get(WEBHOOK) or {})
        delivery = _signed_post(runtime, row, config, document, key)
    delivered, _external, error = _call(delivery)
    gave_up = not delivered and utcnow() - since >= RETRY_FOR
    with runtime.db.session() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        if delivered:
            data: dict[str, Any] = {"target": WEBHOOK, "media": names}
            session.add(_internal_event(ticket, "media_forwarded", f"{WEBHOOK}: {len(names)}", data))
        elif gave_up:
            data = {"target": WEBHOOK, "error": error}
            session.add(_internal_event(ticket, "forward_failed", f"{WEBHOOK} (media): {error}", data))
    if gave_up:
        raise GiveUp("the webhook kept refusing the ticket's later photos for 24 hours")
    if not delivered:
        log.warning("media forward failed, will retry", extra={"message_id": message_id})
        raise RetryLater(f"webhook did not accept the photos: {error}", RETRY_EVERY)
