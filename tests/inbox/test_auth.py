"""Login, logout, session expiry, CSRF and login throttling."""

from __future__ import annotations

import re
import time
from typing import Any

from sqlalchemy import select

from gateway.store.models import AuditEntry, Operator
from tests.inbox.conftest import PASSWORD, World, login


def test_login_with_the_right_password_and_logout(client: Any, world: World, runtime: Any) -> None:
    response = login(client, "KOOR@example.id")
    assert response.status_code == 302 and response.headers["Location"].endswith("/inbox/tickets")
    assert client.get("/inbox/tickets").status_code == 200
    assert client.post("/inbox/logout").status_code == 302
    assert client.get("/inbox/tickets").status_code == 302
    with runtime.db.session() as session:
        actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert actions == ["login"]
        assert session.get(Operator, world.coordinator).last_login_at is not None


def test_wrong_password_unknown_email_and_inactive_account_are_refused_alike(
    client: Any, world: World, runtime: Any
) -> None:
    with runtime.db.session() as session:
        session.get(Operator, world.dlh).active = False
    for email, password in (
        ("koor@example.id", "wrong"),
        ("nobody@example.id", PASSWORD),
        ("dlh@example.id", PASSWORD),
    ):
        response = login(client, email, password)
        assert response.status_code == 401
        assert "Email atau kata sandi salah" in response.get_data(as_text=True)
    assert client.get("/inbox/tickets").status_code == 302
    with runtime.db.session() as session:
        assert len(session.scalars(select(AuditEntry).where(AuditEntry.action == "login.failed")).all()) == 3


def test_deactivating_an_account_ends_its_session_at_once(as_dlh: Any, world: World, runtime: Any) -> None:
    assert as_dlh.get("/inbox/tickets").status_code == 200
    with runtime.db.session() as session:
        session.get(Operator, world.dlh).active = False
    assert as_dlh.get("/inbox/tickets").status_code == 302


def test_next_parameter_cannot_redirect_off_site(client: Any, world: World) -> None:
    response = client.post(
        "/inbox/login?next=//evil.example/x", data={"email": "koor@example.id", "password": PASSWORD}
    )
    assert response.headers["Location"] == "/inbox/tickets"
    client.post("/inbox/logout")
    response = client.post(
        "/inbox/login?next=/inbox/dashboard", data={"email": "koor@example.id", "password": PASSWORD}
    )
    assert response.headers["Location"] == "/inbox/dashboard"


def test_idle_session_expires(as_coordinator: Any) -> None:
    with as_coordinator.session_transaction() as session:
        session["seen_at"] = int(time.time()) - 31 * 60
    response = as_coordinator.get("/inbox/tickets")
    assert response.status_code == 302 and "expired=1" in response.headers["Location"]
    assert as_coordinator.get("/inbox/tickets").status_code == 302


def test_absolute_session_limit_expires_even_an_active_session(as_coordinator: Any) -> None:
    with as_coordinator.session_transaction() as session:
        session["login_at"] = int(time.time()) - 13 * 3600
        session["seen_at"] = int(time.time())
    response = as_coordinator.get("/inbox/tickets")
    assert response.status_code == 302 and "expired=1" in response.headers["Location"]


def test_login_is_throttled_per_account(client: Any, world: World) -> None:
    for _ in range(5):
        assert login(client, "koor@example.id", "wrong").status_code == 401
    # Even the right password waits now: that is what stops guessing.
    assert login(client, "koor@example.id").status_code == 429
    # Another account from the same address is still let in.
    assert login(client, "pu@example.id").status_code == 302


def _from(client: Any, address: str, email: str, password: str = PASSWORD) -> int:
    response = client.post(
        "/inbox/login", data={"email": email, "password": password}, environ_base={"REMOTE_ADDR": address}
    )
    return response.status_code


def test_failures_from_one_address_do_not_lock_the_operator_out_elsewhere(client: Any, world: World) -> None:
    for _ in range(5):
        assert _from(client, "203.0.113.7", "koor@example.id", "wrong") == 401
    assert _from(client, "203.0.113.7", "koor@example.id") == 429  # the guesser waits
    # The operator at the office logs in as usual.
    assert _from(client, "198.51.100.20", "koor@example.id") == 302


def test_a_distributed_attack_on_one_account_meets_the_slower_backstop(client: Any, world: World) -> None:
    """Many addresses, a few guesses each: the per-account count from anywhere stops them at 20."""
    guesses = 0
    for source in range(4):
        for _ in range(5):
            assert _from(client, f"203.0.113.{source + 1}", "koor@example.id", "wrong") == 401
            guesses += 1
    assert guesses == 20
    assert _from(client, "203.0.113.99", "koor@example.id", "wrong") == 429
    # Another account is not affected by the backstop of this one.
    assert _from(client, "203.0.113.99", "pu@example.id") == 302


def test_language_switch_changes_the_interface(as_coordinator: Any, runtime: Any, world: World) -> None:
    assert "Laporan" in as_coordinator.get("/inbox/tickets").get_data(as_text=True)
    as_coordinator.post("/inbox/language", data={"lang": "en", "next": "/inbox/tickets"})
    page = as_coordinator.get("/inbox/tickets").get_data(as_text=True)
    assert "Tickets" in page and "Assigned to me" in page
    with runtime.db.session() as session:
        assert session.get(Operator, world.coordinator).language == "en"


# ------------------------------------------------------------------ CSRF (the real app, protection on)
def _csrf_app(runtime: Any) -> Any:
    from gateway.app import create_app

    return create_app(runtime=runtime)


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


def test_forms_without_a_csrf_token_are_refused(runtime: Any, world: World) -> None:
    client = _csrf_app(runtime).test_client()
    assert (
        client.post("/inbox/login", data={"email": "koor@example.id", "password": PASSWORD}).status_code
        == 400
    )
    token = _token(client.get("/inbox/login").get_data(as_text=True))
    response = client.post(
        "/inbox/login", data={"email": "koor@example.id", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    thread = client.get(f"/inbox/t/{world.dpupr_ticket}").get_data(as_text=True)
    assert client.post(f"/inbox/t/{world.dpupr_ticket}/note", data={"text": "tanpa token"}).status_code == 400
    assert (
        client.post(
            f"/inbox/t/{world.dpupr_ticket}/note", data={"text": "dengan token", "csrf_token": "forged"}
        ).status_code
        == 400
    )
    ok = client.post(
        f"/inbox/t/{world.dpupr_ticket}/note", data={"text": "dengan token", "csrf_token": _token(thread)}
    )
    assert ok.status_code == 302
    assert client.post("/inbox/logout").status_code == 400


def test_webhooks_and_api_are_exempt_from_csrf(runtime: Any, world: World) -> None:
    client = _csrf_app(runtime).test_client()
    request = runtime.adapter("whatsapp").simulate("+6281299990000", "Halo")
    response = client.open(
        request.path, method=request.method, headers=dict(request.headers), data=request.body
    )
    assert response.status_code == 200
    api = client.post(
        "/api/v1/tickets/12345678/replies", json={"text": "x"}, headers={"Authorization": "Bearer nope"}
    )
    assert api.status_code == 401


# ------------------------------------------------------------------ logout ends the session on the server
def _copy_cookie(source: Any, app: Any) -> Any:
    """A second browser holding a copy of ``source``'s session cookie (stolen, or a shared computer)."""
    cookie = source.get_cookie("session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    return thief


def test_a_cookie_copied_before_logout_is_refused_after_it(app: Any, as_coordinator: Any) -> None:
    thief = _copy_cookie(as_coordinator, app)
    assert thief.get("/inbox/tickets").status_code == 200  # the copy works while the session lives
    assert as_coordinator.post("/inbox/logout").status_code == 302
    replay = thief.get("/inbox/tickets")
    assert replay.status_code == 302 and "/inbox/login" in replay.headers["Location"]


def test_logout_ends_only_that_session(app: Any, world: World) -> None:
    desk = app.test_client()
    phone = app.test_client()
    assert login(desk, "koor@example.id").status_code == 302
    assert login(phone, "koor@example.id").status_code == 302
    assert desk.post("/inbox/logout").status_code == 302
    assert desk.get("/inbox/tickets").status_code == 302
    assert phone.get("/inbox/tickets").status_code == 200


def test_an_expired_session_is_refused_to_a_copy_of_its_cookie(app: Any, as_coordinator: Any) -> None:
    """Expiry removes the server's record: a copy taken earlier does not outlive it."""
    thief = _copy_cookie(as_coordinator, app)
    with as_coordinator.session_transaction() as session:
        session["seen_at"] = int(time.time()) - 31 * 60
    assert as_coordinator.get("/inbox/tickets").status_code == 302  # expired, logged out
    assert thief.get("/inbox/tickets").status_code == 302


# ------------------------------------------------------------------ nothing of the inbox stays in a cache
def test_every_inbox_response_says_no_store(client: Any, as_coordinator: Any, world: World) -> None:
    """Shared front-desk computers and proxies keep nothing: pages, fragments, exports, errors, redirects."""
    responses = {
        "login page": client.get("/inbox/login"),
        "redirect to login": client.get("/inbox/tickets"),
        "list": as_coordinator.get("/inbox/tickets"),
        "fragment": as_coordinator.get("/inbox/tickets/fragment"),
        "ticket": as_coordinator.get(f"/inbox/t/{world.dpupr_ticket}"),
        "export": as_coordinator.get("/inbox/tickets/export.csv"),
        "not found": as_coordinator.get("/inbox/t/99999999"),
        "no such page": as_coordinator.get("/inbox/nothing/here"),
    }
    for name, response in responses.items():
        assert response.headers.get("Cache-Control") == "no-store", name
    assert responses["list"].status_code == 200 and responses["export"].status_code == 200
    # Public pages are not affected.
    assert "no-store" not in (client.get("/statistik").headers.get("Cache-Control") or "")
