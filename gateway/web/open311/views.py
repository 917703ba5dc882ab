"""Open311 GeoReport v2 at /open311/v2: discovery, services, service definitions and requests.

One service per complaint category. Reading is public and shows only what the
public page shows: `visibility.is_public` decides (verified and not confidential);
other requests are left out of lists and, asked for by number, show only their
status. Every text is redacted, coordinates are rounded to about 100 m, and the
only media URL given is this gateway's own (never a provider's, which carries
the account's credentials in its path). Creating needs ``api_key`` = an API token
and files a ticket through the ticket service, so it is routed, audited and
notified exactly like a complaint received as a message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import phonenumbers
from flask import Blueprint, Response, current_app, request, url_for
from flask.blueprints import BlueprintSetupState
from flask_limiter.errors import RateLimitExceeded
from sqlalchemy import select
from sqlalchemy.orm import object_session, selectinload
from werkzeug.exceptions import HTTPException

from adapters.common import clean_text, coordinates
from conversations.tracking import parse_tracking
from gateway.attachments.links import public_url
from gateway.attachments.store import ticket_files
from gateway.messages.ingest import find_or_create_contact
from gateway.privacy.redact import redact
from gateway.store.models import ApiToken, Ticket, utcnow
from gateway.tickets import service, visibility
from gateway.web.api.auth import _actor_for, audit_token, hash_token
from gateway.web.bounds import parse_moment
from gateway.web.open311.formats import FORMATS, error, render
from gateway.web.public.listing import known_names, public_description
from gateway.web.public.texts import PublicTexts

open311_bp = Blueprint("open311", __name__, url_prefix="/open311/v2")

#: GeoReport v2 default window and cap for GET requests.
DEFAULT_WINDOW_DAYS = 90
MAX_REQUESTS = 1000
MAX_DESCRIPTION = 4000
MAX_FIELD = 255
CLOSED = frozenset({"resolved", "archived"})
PRIVACY_VALUES = ("public", "anonymous", "confidential")

LIST_PARAMS = frozenset(
    {"jurisdiction_id", "service_request_id", "service_code", "start_date", "end_date", "status"}
)
CREATE_FIELDS = frozenset(
    {
        "jurisdiction_id",
        "api_key",
        "service_code",
        "lat",
        "long",
        "address_string",
        "address_id",
        "email",
        "device_id",
        "account_id",
        "first_name",
        "last_name",
        "phone",
        "description",
        "media_url",
        "attribute[privacy]",
    }
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URL = re.compile(r"^https?://[^\s]+$")


class Open311Error(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def _runtime() -> Any:
    return current_app.extensions["lapor"]


def _fmt(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Open311Error(404, "unknown format: use .json or .xml")
    return fmt


def _request_fmt() -> str:
    path = request.path
    return "xml" if path.endswith(".xml") else "json"


@open311_bp.errorhandler(Open311Error)
def _open311_error(exc: Open311Error) -> Response:
    return error(_request_fmt(), exc.status, exc.description)


@open311_bp.errorhandler(RateLimitExceeded)
def _too_many(exc: RateLimitExceeded) -> Response:
    """The lookup and filing limits (gateway.web.request_limits), answered in Open311's error shape."""
    return error(_request_fmt(), 429, exc.description or "too many requests")


@open311_bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    return error(_request_fmt(), exc.code or 400, exc.description or exc.name)


def _check_params(allowed: frozenset[str], source: Any) -> None:
    unknown = set(source) - allowed
    if unknown:
        raise Open311Error(400, f"unknown parameter(s): {', '.join(sorted(unknown))}")
    for key in source:
        if len(source.getlist(key)) > 1:
            raise Open311Error(400, f"parameter {key} given more than once")
        if len(source[key]) > MAX_DESCRIPTION:
            raise Open311Error(400, f"parameter {key} is too long")


def _check_jurisdiction(source: Any) -> None:
    given = source.get("jurisdiction_id")
    if given and given != _jurisdiction():
        raise Open311Error(404, f"unknown jurisdiction_id {given!r}; this is {_jurisdiction()!r}")


def _jurisdiction() -> str:
    """This deployment's jurisdiction id: its public host name."""
    base = _runtime().settings.public_base_url
    return base.split("://", 1)[-1].split("/", 1)[0]


def _texts() -> PublicTexts:
    return PublicTexts("id", _runtime().settings.env)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _parse_datetime(value: str, name: str) -> datetime:
    try:
        return parse_moment(value, name)
    except ValueError as exc:
        raise Open311Error(400, str(exc)) from None


# --------------------------------------------------------------------------- discovery and services
@open311_bp.get("/discovery.<fmt>")
def discovery(fmt: str) -> Response:
    """Where this endpoint lives and what it speaks (GeoReport v2 discovery)."""
    fmt = _fmt(fmt)
    _check_params(frozenset(), request.args)
    base = url_for("open311.discovery", fmt="json", _external=True).rsplit("/", 1)[0]
    data = {
        "changeset": "2026-11-01T00:00:00Z",
        "contact": _runtime().catalog.city or "SP4N-LAPOR!",
        "key_service": "api_key: minta token API kepada admin (lapor-gateway api-token create)",
        "endpoints": [
            {
                "specification": "http://wiki.open311.org/GeoReport_v2",
                "url": base,
                "changeset": "2026-11-01T00:00:00Z",
                "type": "production",
                "formats": ["application/json", "text/xml"],
            }
        ],
    }
    return render(fmt, data, "discovery")


def _service(code: str) -> dict[str, Any]:
    catalog = _runtime().catalog
    category = catalog.category(code)
    if category is None:
        raise Open311Error(404, f"unknown service_code {code!r}")
    agency = next((a for a in catalog.agencies if code in a.categories), catalog.coordinator)
    return {
        "service_code": category.code,
        "service_name": category.name("id"),
        "description": category.name("en"),
        "metadata": True,
        "type": "realtime",
        "keywords": ", ".join(category.keywords),
        "group": agency.name,
    }


@open311_bp.get("/services.<fmt>")
def services(fmt: str) -> Response:
    """One service per complaint category of config/categories.yaml."""
    fmt = _fmt(fmt)
    _check_params(frozenset({"jurisdiction_id"}), request.args)
    _check_jurisdiction(request.args)
    items = [_service(c.code) for c in _runtime().catalog.categories]
    return render(fmt, items, "services", "service")


@open311_bp.get("/services/<service_code>.<fmt>")
def service_definition(service_code: str, fmt: str) -> Response:
    """The one extra attribute every service takes: the reporter's privacy choice."""
    fmt = _fmt(fmt)
    _check_params(frozenset({"jurisdiction_id"}), request.args)
    _check_jurisdiction(request.args)
    _service(service_code)
    labels = {
        "public": "Publik (nama pelapor boleh ditampilkan)",
        "anonymous": "Anonim (pelapor tidak ditampilkan kepada instansi dan publik)",
        "confidential": "Rahasia (laporan tidak ditampilkan kepada publik)",
    }
    data = {
        "service_code": service_code,
        "attributes": [
            {
                "variable": True,
                "code": "privacy",
                "datatype": "singlevaluelist",
                "required": False,
                "datatype_description": "public, anonymous or confidential; anonymous when not given",
                "order": 1,
                "description": "Kerahasiaan laporan / report privacy",
                "values": [{"key": key, "name": labels[key]} for key in PRIVACY_VALUES],
            }
        ],
    }
    return render(fmt, data, "service_definition")


# --------------------------------------------------------------------------- requests (read)
def _request_json(ticket: Ticket) -> dict[str, Any]:
    t = _texts()
    status_notes = t.status(ticket.status)
    if not visibility.is_public(ticket):
        return {
            "service_request_id": ticket.tracking,
            "status": "closed" if ticket.status in CLOSED else "open",
            "status_notes": status_notes,
        }
    catalog = _runtime().catalog
    category = catalog.category(ticket.category)
    # Only our own unsigned link, and only for a public ticket: never a provider's (credentialed)
    # media URL nor a link a submitter gave, republished unvetted.
    session = object_session(ticket)
    media = ticket_files(session, ticket) if session is not None else []
    return {
        "service_request_id": ticket.tracking,
        "status": "closed" if ticket.status in CLOSED else "open",
        "status_notes": status_notes,
        "service_name": category.name("id") if category else None,
        "service_code": ticket.category,
        "description": public_description(ticket),
        "agency_responsible": ticket.agency.name if ticket.agency else None,
        "service_notice": None,
        "requested_datetime": _iso(ticket.created_at),
        "updated_datetime": _iso(ticket.updated_at),
        "expected_datetime": (
            ticket.deadline.isoformat() + "T23:59:59+07:00"
            if ticket.deadline and ticket.status not in CLOSED
            else None
        ),
        "address": redact(ticket.location_text, known_names(ticket)) if ticket.location_text else None,
        # The kelurahan's Kemendagri code (config/areas.yaml) when the place matched one.
        "address_id": ((ticket.data or {}).get("area") or {}).get("kelurahan_code"),
        "zipcode": None,
        "lat": visibility.coarse_coordinate(ticket.latitude),
        "long": visibility.coarse_coordinate(ticket.longitude),
        "media_url": public_url(_runtime().settings, media[0]) if media else None,
    }


def _base_query() -> Any:
    return select(Ticket).options(selectinload(Ticket.agency), selectinload(Ticket.contact))


def _location_text(runtime: Any, address_string: str | None, address_id: str | None) -> str | None:
    """The place as the ticket keeps it; an address_id that is one of our kelurahan codes is named.

    A client that knows the Kemendagri code sends it as address_id; naming the kelurahan
    and kecamatan lets the ticket match it like any other place (and route by area).
    """
    table = runtime.config.areas
    village = table.kelurahan_by_code(address_id) if address_id else None
    district = table.kecamatan_by_code(village.kecamatan_code) if village else None
    named = f"Kel. {village.name}, Kec. {district.name}" if village and district else None
    if address_string or named:
        return ", ".join(part for part in (address_string, named) if part)
    return f"address_id {address_id}" if address_id else None


@open311_bp.get("/requests.<fmt>")
def list_requests(fmt: str) -> Response:
    """Requests by id list, or by service, status and period (last 90 days by default, at most 1000)."""
    fmt = _fmt(fmt)
    _check_params(LIST_PARAMS, request.args)
    _check_jurisdiction(request.args)
    args = request.args
    query = _base_query().where(visibility.public_tickets_clause())
    if args.get("service_request_id"):
        ids = [part.strip().lstrip("#") for part in args["service_request_id"].split(",") if part.strip()]
        if len(ids) > MAX_REQUESTS or any(parse_tracking(i) is None for i in ids):
            raise Open311Error(400, "service_request_id must be a comma-separated list of 8-digit numbers")
        query = query.where(Ticket.tracking.in_(ids))
    else:
        end = _parse_datetime(args["end_date"], "end_date") if args.get("end_date") else utcnow()
        start = (
            _parse_datetime(args["start_date"], "start_date")
            if args.get("start_date")
            else end - timedelta(days=DEFAULT_WINDOW_DAYS)
        )
        if start > end:
            raise Open311Error(400, "start_date is after end_date")
        query = query.where(Ticket.created_at >= start, Ticket.created_at <= end)
        if args.get("service_code"):
            codes = [c.strip() for c in args["service_code"].split(",") if c.strip()]
            for code in codes:
                _service(code)
            query = query.where(Ticket.category.in_(codes))
        if args.get("status"):
            wanted = {s.strip() for s in args["status"].split(",") if s.strip()}
            if not wanted or not wanted <= {"open", "closed"}:
                raise Open311Error(400, "status must be open, closed or both")
            if wanted == {"open"}:
                query = query.where(Ticket.status.notin_(CLOSED))
            elif wanted == {"closed"}:
                query = query.where(Ticket.status.in_(CLOSED))
    query = query.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(MAX_REQUESTS)
    with _runtime().db.session() as session:
        items = [_request_json(t) for t in session.scalars(query)]
    return render(fmt, items, "service_requests", "request")


@open311_bp.get("/requests/<service_request_id>.<fmt>")
def get_request(service_request_id: str, fmt: str) -> Response:
    """One request; one that is not public (unverified or confidential) shows only its status."""
    fmt = _fmt(fmt)
    _check_params(frozenset({"jurisdiction_id"}), request.args)
    _check_jurisdiction(request.args)
    number = parse_tracking(service_request_id)
    if number is None:
        raise Open311Error(404, f"{service_request_id!r} is not a request id (8 digits, last a check digit)")
    with _runtime().db.session() as session:
        ticket = session.scalar(_base_query().where(Ticket.tracking == number))
        if ticket is None:
            raise Open311Error(404, f"no request {number}")
        item = _request_json(ticket)
    return render(fmt, [item], "service_requests", "request")


# --------------------------------------------------------------------------- requests (create)
def _token(api_key: str | None) -> ApiToken:
    if not api_key:
        raise Open311Error(403, "api_key is required to create a request")
    with _runtime().db.session() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(api_key.strip())))
        if row is None or row.revoked_at is not None:
            raise Open311Error(403, "invalid api_key")
        row.last_used_at = utcnow()
        session.expunge(row)
    return row


def _place(form: Any) -> tuple[float, float] | None:
    """``lat`` and ``long``, both or neither, checked by the one coordinate rule of the adapters."""
    lat, lon = (form.get("lat") or "").strip(), (form.get("long") or "").strip()
    if bool(lat) != bool(lon):
        raise Open311Error(400, "lat and long go together")
    if not lat:
        return None
    place = coordinates(lat, lon)
    if place is None:
        raise Open311Error(400, "lat and long must be numbers within -90..90 and -180..180")
    return place


def _phone(value: str | None) -> str | None:
    if not value or not value.strip():
        return None
    try:
        parsed = phonenumbers.parse(value, "ID")
    except phonenumbers.NumberParseException:
        raise Open311Error(400, "phone is not a phone number")
    if not phonenumbers.is_valid_number(parsed):
        raise Open311Error(400, "phone is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _short(form: Any, name: str) -> str | None:
    value = clean_text(form.get(name)).strip()
    if len(value) > MAX_FIELD:
        raise Open311Error(400, f"{name} is longer than {MAX_FIELD} characters")
    return value or None


def _citizen_channel(runtime: Any) -> str | None:
    """Where a citizen who gave a phone number hears back: the SMS channel that is on."""
    for channel in ("sms", "twilio"):
        if runtime.adapter(channel) is not None:
            return channel
    return None


@dataclass(frozen=True)
class _Submission:
    """A request to file, every field checked: what `create_request` keeps of GeoReport's POST."""

    code: str
    latitude: float | None
    longitude: float | None
    address_string: str | None
    address_id: str | None
    description: str
    email: str | None
    phone: str | None
    media_url: str | None
    privacy: str | None
    first_name: str | None
    last_name: str | None
    device_id: str | None
    account_id: str | None

    @property
    def display_name(self) -> str | None:
        return " ".join(p for p in (self.first_name, self.last_name) if p) or None

    def details(self, token: ApiToken) -> dict[str, Any]:
        """What Open311 adds to the ticket (``data["open311"]``), and the names redaction must know."""
        extra = {
            k: v
            for k, v in {
                "first_name": self.first_name,
                "last_name": self.last_name,
                "device_id": self.device_id,
                "account_id": self.account_id,
                "address_id": self.address_id,
                "api_token": token.id,
            }.items()
            if v is not None
        }
        return {"open311": extra, **{k: extra[k] for k in extra if "name" in k}}


def _check_envelope(form: Any) -> None:
    """Fields in the body only, none unknown, and our jurisdiction (if one is named)."""
    if request.args:
        raise Open311Error(400, "send the fields form-encoded in the body, not in the query string")
    _check_params(CREATE_FIELDS, form)
    _check_jurisdiction(form)


def _read_code(form: Any) -> str:
    code = (form.get("service_code") or "").strip()
    if not code:
        raise Open311Error(400, "service_code is required")
    _service(code)
    return code


def _read_location(form: Any) -> tuple[float | None, float | None, str | None, str | None]:
    """``lat``, ``long``, ``address_string``, ``address_id``: at least a point or an address."""
    place = _place(form)
    lat, lon = place if place is not None else (None, None)
    address_string = _short(form, "address_string")
    address_id = _short(form, "address_id")
    if lat is None and not address_string and not address_id:
        raise Open311Error(400, "a location is required: lat and long, address_string or address_id")
    return lat, lon, address_string, address_id


def _read_description(form: Any) -> str:
    # Control characters are stripped as from any provider: stored, they would break
    # requests.xml (XML 1.0 cannot carry them) and every export after it.
    description = clean_text(form.get("description")).strip()
    if not description:
        raise Open311Error(400, "description is required")
    return description


def _read_email(form: Any) -> str | None:
    email = _short(form, "email")
    if email and not _EMAIL.match(email):
        raise Open311Error(400, "email is not an e-mail address")
    return email


def _read_media_url(form: Any) -> str | None:
    media_url = _short(form, "media_url")
    if media_url and not _URL.match(media_url):
        raise Open311Error(400, "media_url must be an http(s) URL")
    return media_url


def _read_privacy(form: Any) -> str | None:
    privacy = (form.get("attribute[privacy]") or "").strip() or None
    if privacy is not None and privacy not in PRIVACY_VALUES:
        raise Open311Error(400, f"attribute[privacy] must be one of {', '.join(PRIVACY_VALUES)}")
    return privacy


def _read_submission(form: Any) -> _Submission:
    """Every field checked, in the order the errors are reported; `Open311Error` (400) at the first."""
    code = _read_code(form)
    lat, lon, address_string, address_id = _read_location(form)
    description = _read_description(form)
    email = _read_email(form)
    phone = _phone(form.get("phone"))
    media_url = _read_media_url(form)
    privacy = _read_privacy(form)
    return _Submission(
        code=code,
        latitude=lat,
        longitude=lon,
        address_string=address_string,
        address_id=address_id,
        description=description,
        email=email,
        phone=phone,
        media_url=media_url,
        privacy=privacy,
        first_name=_short(form, "first_name"),
        last_name=_short(form, "last_name"),
        device_id=_short(form, "device_id"),
        account_id=_short(form, "account_id"),
    )


def _reporter(session: Any, sub: _Submission, channel: str | None) -> tuple[Any, str | None]:
    """The contact who filed (by phone, else by e-mail, else nobody) and the address they hear back at."""
    if sub.phone:
        address = f"tel:{sub.phone}"
        contact, _row = find_or_create_contact(session, address, channel or "open311", sub.display_name)
        return contact, address
    if sub.email:
        contact, _row = find_or_create_contact(
            session, f"mailto:{sub.email.lower()}", "open311", sub.display_name
        )
        return contact, None
    return None, None


def _file(session: Any, runtime: Any, sub: _Submission, token: ApiToken) -> Ticket:
    """File the ticket through the ticket service, as any complaint, and keep what Open311 adds."""
    channel = _citizen_channel(runtime) if sub.phone else None
    contact, address = _reporter(session, sub, channel)
    ticket = service.create_ticket(
        session,
        runtime,
        contact=contact,
        description=sub.description,
        category=sub.code,
        location_text=_location_text(runtime, sub.address_string, sub.address_id),
        latitude=sub.latitude,
        longitude=sub.longitude,
        privacy=sub.privacy,
        privacy_chosen=sub.privacy is not None,
        channel=channel if address else "open311",
        address=address if channel else None,
        language="id",
        source="open311",
        attachments=[{"kind": "link", "url": sub.media_url}] if sub.media_url else (),
        actor=_actor_for(token),
    )
    service.record_filing(ticket, **sub.details(token))
    return ticket


@open311_bp.post("/requests.<fmt>")
def create_request(fmt: str) -> Response:
    """File a complaint (form-encoded, per GeoReport v2); answers its service_request_id."""
    fmt = _fmt(fmt)
    form = request.form
    _check_envelope(form)
    token = _token(form.get("api_key"))
    submission = _read_submission(form)
    runtime = _runtime()
    with runtime.db.session() as session:
        ticket = _file(session, runtime, submission, token)
        audit_token(session, token, "open311.create", ticket, f"service {submission.code}")
        tracking = ticket.tracking
    item = {"service_request_id": tracking, "service_notice": None, "account_id": form.get("account_id")}
    return render(fmt, [item], "service_requests", "request", status=201)


def _numbers_asked() -> int:
    """How many request ids a list names: each is a lookup, as one ``/requests/<id>`` is."""
    return len([part for part in request.args.get("service_request_id", "").split(",") if part.strip()])


@open311_bp.record_once
def _limits(state: BlueprintSetupState) -> None:
    """Per-address lookups and per-key filing; registered after the routes above exist."""
    from gateway.web.request_limits import limit_lookups, limit_per_api_key

    limit_lookups(state.app, "open311.get_request")
    limit_lookups(state.app, "open311.list_requests", numbers=_numbers_asked)
    limit_per_api_key(state.app, "open311.create_request")


_ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@open311_bp.route("/", methods=_ALL_METHODS, defaults={"rest": ""})
@open311_bp.route("/<path:rest>", methods=_ALL_METHODS)
def not_found(rest: str) -> Response:
    """Anything else under /open311/v2 answers an Open311 error, not an HTML page."""
    known = ("discovery.", "services", "requests")
    if rest.startswith(known) and request.method not in ("GET", "HEAD"):
        return error(_request_fmt(), 405, f"{request.method} is not allowed here")
    return error(_request_fmt(), 404, "no such Open311 resource")
