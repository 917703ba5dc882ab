"""``/lapor``: the citizens' web complaint form, a fourth channel (``web``). Works without JavaScript.

A submission takes the webhook's path (docs/channels.md, "Web form"): it is checked here
(honeypot, signed form token, per-address and per-number limits, the fields, the photo by
its bytes), normalized by `adapters.web.form_message`, and stored by
`gateway.messages.ingest.store_message` with its ``process_inbound`` job in one transaction, the
form's id as provider message id. The worker runs the conversation engine, which files a
complete form in one step (`conversations.engine`, ``on_web_form``); routing, deadlines and
the agency's forward are the same as for an SMS.

The tracking number: the POST answers at once with a redirect to the receipt page, which
waits up to ``LAPOR_WEBFORM_WAIT_SECONDS`` for the worker to file the ticket and shows its
number and the engine's answer; a receipt asked for before that (a slow worker) says so and
refreshes itself (a ``<meta http-equiv="refresh">``, no JavaScript needed).

Updates on Telegram: a bot cannot write first, so when the channel is on the receipt offers
"Ikuti lewat Telegram", a deep link whose ``/start`` makes the chat a follower of the ticket
(`gateway.tickets.followers`); the form's updates field says so beforehand.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from flask_limiter.errors import RateLimitExceeded
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.utils import secure_filename

from adapters.base import Attachment, Location
from adapters.common import clean_text, coordinates, normalize_phone
from adapters.web import CHANNEL, UPDATE_SCHEMES, WebForm, form_message, sender_for
from conversations.state import DEFAULT_PRIVACY, PRIVACY_CHOICES
from gateway.attachments.content_types import PHOTOS, SNIFF_BYTES, MediaType, sniff
from gateway.attachments.store import media_backend, store
from gateway.messages.ingest import store_message
from gateway.messages.ratelimit import recent_inbound
from gateway.runtime import Runtime
from gateway.store.models import ContactAddress, Message, Ticket, utcnow
from gateway.tickets.followers import CHANNEL as TELEGRAM
from gateway.tickets.followers import deep_link
from gateway.web.public.texts import DEFAULT_LANGUAGE, LANGUAGES, PublicTexts
from gateway.web.webform import tokens
from gateway.web.webform.delivery import carrier
from gateway.work.handlers.fetch_media import MAX_MEDIA_BYTES

webform_bp = Blueprint("webform", __name__)

#: The honeypot: a text field people never see (hidden by CSS, out of the tab order, labelled
#: "leave empty"), which form-filling scripts fill in.
HONEYPOT = "website"
MAX_DESCRIPTION = 4000
MAX_PLACE = 300
# Settings (docs/channels.md, "Web form"), with their defaults.
MIN_SECONDS = ("LAPOR_WEBFORM_MIN_SECONDS", 3.0)
MAX_SECONDS = ("LAPOR_WEBFORM_MAX_SECONDS", 7200.0)
WAIT_SECONDS = ("LAPOR_WEBFORM_WAIT_SECONDS", 5.0)
PER_NUMBER_PER_DAY = ("LAPOR_WEBFORM_LIMIT_PER_NUMBER", 5.0)
#: Submissions per client address (Flask-Limiter, counted in Redis): carriers put many
#: citizens behind one address, so room for a village, not for a script.
LIMIT_PER_ADDRESS = "10 per hour;40 per day"


def _runtime() -> Runtime:
    return current_app.extensions["lapor"]


def _number(setting: tuple[str, float]) -> float:
    name, default = setting
    try:
        value = float(_runtime().settings.get(name) or default)
    except ValueError:
        return default
    return value if math.isfinite(value) and value >= 0 else default


class FormTexts:
    """The form's texts (``messages/webform_<lang>.yaml``), then the public pages' (the header)."""

    def __init__(self, language: str) -> None:
        env = _runtime().settings.env
        self.language = language
        self._form = PublicTexts(language, env, catalog="webform")
        self._public = PublicTexts(language, env)

    def __call__(self, key: str, **params: Any) -> str:
        return self._form(key, **params) if self._form.has(key) else self._public(key, **params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._public, name)  # status(), channel() ... of the public pages


def _language(value: str | None) -> str:
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


@dataclass
class Submission:
    """The form as posted, kept to show it again with its errors."""

    description: str = ""
    place: str = ""
    lat: str = ""
    lon: str = ""
    category: str = ""
    privacy: str = DEFAULT_PRIVACY
    updates: str = "none"
    phone: str = ""
    errors: list[str] = field(default_factory=list)


def _update_choices() -> list[str]:
    """The ways to hear back that this deployment can carry (a channel for the scheme is on)."""
    runtime = _runtime()
    return [
        name
        for name, scheme in UPDATE_SCHEMES.items()
        if carrier(runtime, CHANNEL, f"{scheme}:+62") != CHANNEL
    ]


def _render(lang: str, submission: Submission, token: str, status: int = 200) -> tuple[str, int]:
    runtime = _runtime()
    settings = runtime.config.conversation
    html = render_template(
        "public/lapor.html",
        t=FormTexts(lang),
        lang=lang,
        city=runtime.catalog.city,
        form=submission,
        token=token,
        honeypot=HONEYPOT,
        categories=[(c.code, c.name(lang)) for c in runtime.catalog.categories],
        privacy_choices=("anonymous", "public", "confidential"),
        update_choices=["none", *_update_choices()],
        min_description=int(settings.get("min_description_length", 10)),
        max_description=MAX_DESCRIPTION,
        max_place=MAX_PLACE,
        photo_mb=round(MAX_MEDIA_BYTES / 1_048_576),
        months=runtime.settings.retention_months,
        telegram=runtime.adapter(TELEGRAM) is not None,
    )
    return html, status


def _with_geolocation(response: Response) -> Response:
    """The app forbids geolocation everywhere (Permissions-Policy); this page may ask for it."""
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(self)"
    response.headers["Cache-Control"] = "no-store"  # each form carries its own token
    return response


@webform_bp.get("/lapor")
def form() -> Response:
    lang = _language(request.args.get("lang"))
    html, status = _render(lang, Submission(), tokens.issue(_runtime().settings.secret_key))
    return _with_geolocation(Response(html, status))


def _photo(upload: FileStorage | None, t: FormTexts) -> tuple[bytes, MediaType, str, str] | str | None:
    """The uploaded photo (bytes, sniffed type, safe name, declared type), an error text, or None.

    Judged by its bytes against the allowlist (`gateway.attachments.content_types`), as every citizen's file
    is, and by the size every channel's media may have (`gateway.work.handlers.fetch_media.MAX_MEDIA_BYTES`).
    """
    if upload is None or not upload.filename:
        return None
    data = upload.stream.read(MAX_MEDIA_BYTES + 1)
    mb = round(MAX_MEDIA_BYTES / 1_048_576)
    if len(data) > MAX_MEDIA_BYTES:
        return t("error_photo_big", mb=mb)
    kind = sniff(data[:SNIFF_BYTES])
    if not data or kind not in PHOTOS:
        return t("error_photo_type")
    name = secure_filename(upload.filename)[:120] or "foto" + kind.extension
    return data, kind, name, (upload.mimetype or "")[:100]


def _read(submission: Submission, t: FormTexts) -> tuple[Location | None, str | None]:
    """Check the fields (errors go to ``submission.errors``); the pin and the E.164 number."""
    settings = _runtime().config.conversation
    least = int(settings.get("min_description_length", 10))
    errors = submission.errors
    if len(submission.description) < least:
        errors.append(t("error_description_short", min=least))
    elif len(submission.description) > MAX_DESCRIPTION:
        errors.append(t("error_description_long", max=MAX_DESCRIPTION))
    location = None
    if submission.lat or submission.lon:
        place = coordinates(submission.lat, submission.lon)
        if place is None:
            errors.append(t("error_location_invalid"))
        else:
            location = Location(latitude=place[0], longitude=place[1])
    if not submission.place and location is None:
        errors.append(t("error_place_missing"))
    elif len(submission.place) > MAX_PLACE:
        errors.append(t("error_place_long", max=MAX_PLACE))
    if submission.privacy not in PRIVACY_CHOICES:
        errors.append(t("error_privacy"))
    codes = {c.code for c in _runtime().catalog.categories}
    if submission.category and submission.category not in codes:
        errors.append(t("error_category"))
    phone = None
    if submission.updates not in ("none", *_update_choices()):
        errors.append(t("error_updates"))
    elif submission.updates != "none":
        if not submission.phone:
            errors.append(t("error_phone_missing"))
        else:
            phone = normalize_phone(submission.phone)
            if phone is None:
                errors.append(t("error_phone_invalid"))
    return location, phone


def _too_many_from(phone: str) -> bool:
    """The per-number limit: web submissions of the number's contact over the last day
    (`gateway.messages.ratelimit`, the count every sender limit uses)."""
    from datetime import timedelta

    limit = int(_number(PER_NUMBER_PER_DAY))
    if limit <= 0:
        return False
    addresses = [f"{scheme}:{phone}" for scheme in UPDATE_SCHEMES.values()]
    with _runtime().db.session(write=False) as session:
        contact_id = session.scalar(
            select(ContactAddress.contact_id).where(ContactAddress.address.in_(addresses)).limit(1)
        )
        if contact_id is None:
            return False
        return recent_inbound(session, contact_id, window=timedelta(days=1), channel=CHANNEL) >= limit


@webform_bp.post("/lapor")
def submit() -> Any:
    runtime = _runtime()
    secret = runtime.settings.secret_key
    posted = request.form
    lang = _language(posted.get("lang"))
    t = FormTexts(lang)
    submission = Submission(
        description=clean_text(posted.get("description")).strip(),
        place=clean_text(posted.get("place")).strip(),
        lat=(posted.get("lat") or "").strip()[:32],
        lon=(posted.get("lon") or "").strip()[:32],
        category=(posted.get("category") or "").strip()[:64],
        privacy=(posted.get("privacy") or "").strip()[:32],
        updates=(posted.get("updates") or "none").strip()[:32],
        phone=(posted.get("phone") or "").strip()[:40],
    )
    given_token = (posted.get("token") or "").strip()
    if posted.get(HONEYPOT):
        submission.errors.append(t("error_robot"))
        return _with_geolocation(Response(*_render(lang, submission, tokens.issue(secret), 400)))
    try:
        token = tokens.check(
            secret, given_token, min_seconds=_number(MIN_SECONDS), max_seconds=_number(MAX_SECONDS)
        )
    except tokens.TokenProblem as problem:
        submission.errors.append(t(f"error_{problem.code}"))
        # Too fast: the same token, which is old enough by the time a person presses again.
        again = given_token if problem.code == "too_fast" else tokens.issue(secret)
        return _with_geolocation(Response(*_render(lang, submission, again, 400)))
    location, phone = _read(submission, t)
    photo = _photo(request.files.get("photo"), t)
    if isinstance(photo, str):
        submission.errors.append(photo)
    if not submission.errors and phone is not None and _too_many_from(phone):
        submission.errors.append(t("error_limit_phone"))
        return _with_geolocation(Response(*_render(lang, submission, given_token, 429)))
    if submission.errors:
        return _with_geolocation(Response(*_render(lang, submission, given_token, 400)))
    _store(
        runtime, token.form_id, submission, location, phone, photo if isinstance(photo, tuple) else None, lang
    )
    key = tokens.receipt(secret, token.form_id)
    return redirect(url_for("webform.receipt", key=key, lang=lang if lang != DEFAULT_LANGUAGE else None), 303)


def _store(
    runtime: Runtime,
    form_id: str,
    submission: Submission,
    location: Location | None,
    phone: str | None,
    photo: tuple[bytes, MediaType, str, str] | None,
    lang: str,
) -> None:
    """The submission as a normalized ``web`` message, stored with its job (once per form id).

    The photo is kept by its hash before the transaction (as the media job keeps a provider's),
    and the message row records where, in the same transaction that stores it.
    """
    attachments: tuple[Attachment, ...] = ()
    stored: dict[str, Any] | None = None
    if photo is not None:
        data, kind, name, declared = photo
        stored_path, kind = store(media_backend(runtime.settings), data)
        attachments = (Attachment(kind="image", content_type=kind.mime, filename=name, size=len(data)),)
        stored = {
            "stored_path": stored_path,
            "content_type": kind.mime,
            "declared_type": declared or None,
            "size": len(data),
        }
    message = form_message(
        form_id,
        sender_for(form_id, submission.updates, phone),
        submission.description,
        WebForm(
            place=submission.place,
            privacy=submission.privacy,
            category=submission.category or None,
            updates=submission.updates if phone else "none",
        ),
        location=location,
        attachments=attachments,
        language=lang,
        sent_at=utcnow(),
    )
    with runtime.db.session() as session:
        # No per-minute throttle here (0): the form has its own limits, checked above, and a
        # throttled submission would be kept but never filed.
        message_id = store_message(session, message, 0)
        if message_id is not None and stored is not None:
            row = session.get(Message, message_id)
            assert row is not None
            row.attachments = [dict(item) | stored for item in row.attachments or []]


def _filed(runtime: Runtime, form_id: str) -> tuple[Message, Ticket | None] | None:
    """The stored submission and the ticket it became (None while the worker has not filed it)."""
    with runtime.db.session(write=False) as session:
        row = session.scalar(
            select(Message).where(
                Message.channel == CHANNEL, Message.provider_message_id == form_id, Message.direction == "in"
            )
        )
        if row is None:
            return None
        ticket = session.get(Ticket, row.ticket_id) if row.ticket_id is not None else None
        session.expunge_all()
        return row, ticket


def _answers(runtime: Runtime, row: Message) -> list[str]:
    """What the engine answered this submission (the filing confirmation, emergency numbers)."""
    with runtime.db.session(write=False) as session:
        return list(
            session.scalars(
                select(Message.text)
                .where(Message.direction == "out", Message.dedupe_key.like(f"reply:m{row.id}:%"))
                .order_by(Message.id)
            )
        )


@webform_bp.get("/lapor/diterima/<key>")
def receipt(key: str) -> Any:
    """The receipt: waits briefly for the worker to file the ticket, then shows its number."""
    runtime = _runtime()
    lang = _language(request.args.get("lang"))
    t = FormTexts(lang)
    form_id = tokens.receipt_form_id(runtime.settings.secret_key, key[:200])
    found = _filed(runtime, form_id) if form_id else None
    if found is None:
        html = render_template(
            "public/error.html", t=t, lang=lang, heading=t("receipt_title"), text=t("receipt_not_found")
        )
        return html, 404
    deadline = time.monotonic() + _number(WAIT_SECONDS)
    while found is not None and found[1] is None and time.monotonic() < deadline:
        time.sleep(0.2)
        found = _filed(runtime, form_id)  # type: ignore[arg-type]
    assert found is not None
    row, ticket = found
    updates = (row.raw or {}).get("payload", {}).get("form", {}).get("updates", "none")
    html = render_template(
        "public/lapor_diterima.html",
        t=t,
        lang=lang,
        city=runtime.catalog.city,
        ticket=ticket,
        answers=_answers(runtime, row) if ticket is not None else [],
        updates=updates,
        telegram_link=deep_link(runtime, ticket.tracking) if ticket is not None else None,
    )
    response = Response(html, 200 if ticket is not None else 202)
    response.headers["Cache-Control"] = "no-store"
    if ticket is None:
        response.headers["Refresh"] = "3"  # browsers reload by themselves, with or without JavaScript
    return response


@webform_bp.before_app_request
def _room_for_a_photo() -> None:
    """The app's body limit is sized for webhooks; a phone's photo is megabytes."""
    if request.endpoint == "webform.submit":
        request.max_content_length = MAX_MEDIA_BYTES + 256 * 1024


@webform_bp.errorhandler(RateLimitExceeded)
def _too_many_from_address(exc: RateLimitExceeded) -> Response:
    """Over the per-address limit: the form again, with the fields kept and the reason."""
    lang = _language(request.form.get("lang"))
    submission = Submission(
        description=clean_text(request.form.get("description")).strip(),
        place=clean_text(request.form.get("place")).strip(),
        errors=[FormTexts(lang)("error_limit_address")],
    )
    token = (request.form.get("token") or "").strip()
    return _with_geolocation(Response(*_render(lang, submission, token, 429)))
