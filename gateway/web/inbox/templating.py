"""What the inbox templates call: texts, labels, local times, map links.

Times are stored in UTC and shown in the deployment's time zone (lifecycle.yaml,
Asia/Jakarta by default), because an operator in Makassar reading "02:00" for a
message sent at 10:00 local time would misjudge how long a citizen has waited.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from flask_login import current_user

from adapters.common import coordinates
from gateway.web.inbox.i18n import LANGUAGES, current_language, has_text, translate

CHANNEL_LABELS = {"sms": "SMS", "whatsapp": "WhatsApp", "telegram": "Telegram"}
#: Twilio is a provider, not a channel: a citizen reached through it is on SMS or WhatsApp,
#: which its address says.
ADDRESS_CHANNELS = {"tel": "SMS", "whatsapp": "WhatsApp"}


def _zone() -> ZoneInfo:
    from gateway.tickets import policy

    try:
        return ZoneInfo(policy.timezone(current_app.extensions["lapor"]))
    except Exception:  # an unknown zone name in the deployer's config must not break every page
        return ZoneInfo("Asia/Jakarta")


def local_time(value: datetime | None, fmt: str = "%d-%m-%Y %H:%M") -> str:
    if value is None:
        return "-"
    return value.astimezone(_zone()).strftime(fmt)


def local_day(value: date | None) -> str:
    return value.strftime("%d-%m-%Y") if value else "-"


def status_label(status: str | None) -> str:
    return translate(f"status.{status}") if status else "-"


def action_label(action: str) -> str:
    key = f"action.{action}"
    return translate(key) if has_text(key) else action.replace("_", " ")


def channel_label(channel: str | None, address: str | None = None) -> str:
    """The channel as the citizen knows it: "SMS" or "WhatsApp" (by the address) whichever provider
    carries it; a provider alone (a filter, a count per channel) is named with what it carries."""
    if not channel:
        return translate("channel.walk_in")
    if address and ":" in address:
        by_address = ADDRESS_CHANNELS.get(address.split(":", 1)[0].lower())
        if by_address and channel in ("sms", "whatsapp", "twilio"):
            return by_address
    if channel in CHANNEL_LABELS:
        return CHANNEL_LABELS[channel]
    key = f"channel.{channel}"
    return translate(key) if has_text(key) else channel


def event_actor(event: Any) -> str:
    """Who made a history entry, in the operator's language where the label is a generic one."""
    if event.actor_type == "citizen":
        return translate("thread.citizen")
    if event.actor_type == "system" and event.actor_label in (None, "", "Sistem"):
        return translate("thread.system")
    return str(event.actor_label or translate("thread.system"))


def category_name(code: str | None) -> str:
    if not code:
        return translate("ticket.no_category")
    found = current_app.extensions["lapor"].catalog.category(code)
    return found.name(current_language()) if found else code


def agency_name(code: str | None) -> str:
    """An agency's name from the catalogue (the code when it is no longer configured)."""
    found = current_app.extensions["lapor"].catalog.agency(code) if code else None
    return found.name if found else (code or "-")


def map_url(latitude: Any, longitude: Any, exact: bool = True) -> str | None:
    """A map link for a stored pin; none for coordinates that are no place (stored before the
    adapters checked them: text, null, an object, NaN, out of range), so the page still shows.
    ``exact`` False (the reporter is hidden) rounds the pin to about 100 m."""
    place = coordinates(latitude, longitude)
    if place is None:
        return None
    lat, lon = place
    if not exact:
        from gateway.tickets.visibility import coarse_coordinate

        lat, lon = coarse_coordinate(lat) or 0.0, coarse_coordinate(lon) or 0.0
    return f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=17/{lat:.6f}/{lon:.6f}"


def number(value: int | float) -> str:
    """Indonesian thousands separator ("1.096") in Indonesian, comma in English."""
    text = f"{int(value):,}"
    return text.replace(",", ".") if current_language() == "id" else text


def emergency_label(ticket: Any) -> str | None:
    """The badge text of a ticket that reported an emergency ("Darurat: Kebakaran"), else None."""
    from gateway.tickets import emergency

    kind = emergency.kind_of(ticket)
    if kind is None:
        return None
    return emergency_kind_label(kind)


def emergency_kind_label(kind: str) -> str:
    """The badge text of an emergency ``kind`` (a ticket's or an unfinished draft's)."""
    key = f"emergency.kinds.{kind}"
    if not has_text(key):
        return translate("emergency.badge")
    return translate("emergency.badge_kind", kind=translate(key))


def install_template_helpers(app: Flask) -> None:
    app.jinja_env.globals.update(
        emergency_label=emergency_label,
        emergency_kind_label=emergency_kind_label,
        t=translate,
        local_time=local_time,
        local_day=local_day,
        status_label=status_label,
        action_label=action_label,
        channel_label=channel_label,
        event_actor=event_actor,
        category_name=category_name,
        agency_name=agency_name,
        map_url=map_url,
        fmt_number=number,
        LANGUAGES=LANGUAGES,
    )

    @app.context_processor
    def _inbox_context() -> dict[str, Any]:
        return {"lang": current_language(), "user": current_user}
