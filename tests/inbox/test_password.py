"""Changing passwords in the inbox: one's own, or an admin another's; sessions follow the password."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from gateway.store.models import AuditEntry, Operator
from tests.inbox.conftest import PASSWORD, World, login

NEW = "kata-sandi-baru-2024"
PAGE = "/inbox/account/password"


def _change(client: Any, current: str, new: str, confirm: str | None = None, **extra: str) -> Any:
    data = {"current_password": current, "new_password": new, "confirm": new if confirm is None else confirm}
    return client.post(PAGE, data={**data, **extra})


def _hash(runtime: Any, operator_id: int) -> str:
    with runtime.db.session() as session:
        return session.get(Operator, operator_id).password_hash


def _actions(runtime: Any) -> list[str]:
    with runtime.db.session() as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


# ------------------------------------------------------------------ self-service
def test_the_page_is_linked_from_the_top_bar_and_needs_login(client: Any, as_dpupr: Any) -> None:
    assert f'href="{PAGE}"' in as_dpupr.get("/inbox/tickets").get_data(as_text=True)
    page = as_dpupr.get(PAGE)
    assert page.status_code == 200 and "Kata sandi sekarang" in page.get_data(as_text=True)
    response = client.get(PAGE)
    assert response.status_code == 302 and "/inbox/login" in response.headers["Location"]
    assert _change(client, PASSWORD, NEW).status_code == 302  # to the login page, nothing changed


def test_a_wrong_current_password_is_refused_and_audited(as_dpupr: Any, world: World, runtime: Any) -> None:
    before = _hash(runtime, world.dpupr)
    response = _change(as_dpupr, "bukan-kata-sandinya", NEW)
    assert response.status_code == 400
    assert "Kata sandi sekarang salah." in response.get_data(as_text=True)
    assert _hash(runtime, world.dpupr) == before
    assert "account.password_failed" in _actions(runtime)


def test_new_passwords_must_match_follow_the_rule_and_differ(
    as_dpupr: Any, world: World, runtime: Any
) -> None:
    before = _hash(runtime, world.dpupr)
    mismatch = _change(as_dpupr, PASSWORD, NEW, NEW + "x")
    assert mismatch.status_code == 400
    assert "Kedua kata sandi baru tidak sama." in mismatch.get_data(as_text=True)
    short = _change(as_dpupr, PASSWORD, "pendek")
    assert short.status_code == 400 and "minimal 12 karakter" in short.get_data(as_text=True)
    same = _change(as_dpupr, PASSWORD, PASSWORD)
    assert same.status_code == 400 and "harus berbeda" in same.get_data(as_text=True)
    assert _hash(runtime, world.dpupr) == before


def test_a_valid_change_keeps_this_session_ends_the_others_and_the_new_password_logs_in(
    app: Any, as_dpupr: Any, world: World, runtime: Any
) -> None:
    other_device = app.test_client()
    assert login(other_device, "pu@example.id").status_code == 302
    response = _change(as_dpupr, PASSWORD, NEW)
    assert response.status_code == 302 and response.headers["Location"].endswith("/inbox/tickets")
    assert "Kata sandi Anda telah diganti" in as_dpupr.get("/inbox/tickets").get_data(as_text=True)
    # The other device's session ended with the old password.
    ended = other_device.get("/inbox/tickets")
    assert ended.status_code == 302 and "expired=1" in ended.headers["Location"]
    assert other_device.get("/inbox/tickets").status_code == 302
    fresh = app.test_client()
    assert login(fresh, "pu@example.id", PASSWORD).status_code == 401
    assert login(fresh, "pu@example.id", NEW).status_code == 302
    assert fresh.get("/inbox/tickets").status_code == 200
    assert "account.password" in _actions(runtime)


def test_the_form_only_ever_changes_the_logged_in_operator(
    as_dpupr: Any, as_admin: Any, world: World, runtime: Any
) -> None:
    others = {oid: _hash(runtime, oid) for oid in (world.dpupr2, world.dlh, world.admin)}
    response = _change(
        as_dpupr, PASSWORD, NEW, operator_id=str(world.dpupr2), email="pu2@example.id", id=str(world.dlh)
    )
    assert response.status_code == 302
    assert {oid: _hash(runtime, oid) for oid in others} == others
    assert _hash(runtime, world.dpupr) != others[world.admin]
    # Through the other forms that take a password: the admin pages refuse non-admins outright ...
    assert as_dpupr.get(f"/inbox/admin/operators/{world.dpupr2}/password").status_code == 403
    target = f"/inbox/admin/operators/{world.dpupr2}/password"
    assert as_dpupr.post(target, data={"new_password": NEW, "confirm": NEW}).status_code == 403
    creating = {"email": "pu2@example.id", "name": "x", "password": NEW, "role": "agency", "language": "id"}
    assert as_dpupr.post("/inbox/admin/operators", data=creating).status_code == 403
    # ... and even an admin cannot overwrite an account by "creating" it again.
    assert as_admin.post("/inbox/admin/operators", data={**creating, "role": "admin"}).status_code == 400
    assert _hash(runtime, world.dpupr2) == others[world.dpupr2]


def test_changing_the_password_is_throttled_like_login(as_dpupr: Any, world: World) -> None:
    for _ in range(5):
        assert _change(as_dpupr, "salah-terus-menerus", NEW).status_code == 400
    throttled = _change(as_dpupr, PASSWORD, NEW)
    assert throttled.status_code == 429
    assert "mengganti kata sandi" in throttled.get_data(as_text=True)


def test_the_page_speaks_english_too(as_dpupr: Any) -> None:
    as_dpupr.post("/inbox/language", data={"lang": "en", "next": PAGE})
    html = _change(as_dpupr, "wrong-current-password", NEW, NEW + "!").get_data(as_text=True)
    assert "Current password" in html and "The two new passwords do not match." in html


# ------------------------------------------------------------------ the admin
def test_the_operators_page_links_each_other_operator_to_a_new_password(as_admin: Any, world: World) -> None:
    html = as_admin.get("/inbox/admin/operators").get_data(as_text=True)
    assert f"/inbox/admin/operators/{world.dlh}/password" in html
    assert f"/inbox/admin/operators/{world.admin}/password" not in html
    assert f'href="{PAGE}"' in html  # their own row: the page that asks for the current password


def test_an_admin_sets_another_operators_password_and_ends_their_sessions(
    app: Any, as_admin: Any, as_dlh: Any, world: World, runtime: Any
) -> None:
    target = f"/inbox/admin/operators/{world.dlh}/password"
    page = as_admin.get(target).get_data(as_text=True)
    assert "Lina DLH" in page and "dlh@example.id" in page and "Kata sandi sekarang" not in page
    assert as_admin.post(target, data={"new_password": NEW, "confirm": "lain"}).status_code == 400
    assert as_admin.post(target, data={"new_password": "pendek", "confirm": "pendek"}).status_code == 400
    assert login(app.test_client(), "dlh@example.id", PASSWORD).status_code == 302  # unchanged so far
    response = as_admin.post(target, data={"new_password": NEW, "confirm": NEW})
    assert response.status_code == 302 and response.headers["Location"].endswith("/inbox/admin/operators")
    assert as_dlh.get("/inbox/tickets").status_code == 302  # their open session ended
    assert login(app.test_client(), "dlh@example.id", PASSWORD).status_code == 401
    assert login(app.test_client(), "dlh@example.id", NEW).status_code == 302
    assert as_admin.get("/inbox/tickets").status_code == 200  # the admin's own session is untouched
    with runtime.db.session() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "admin.operator_password"))
        assert entry is not None and entry.operator_id == world.admin and entry.detail == "dlh@example.id"


def test_the_admin_path_stays_within_its_scope(
    as_admin: Any, as_coordinator: Any, world: World, runtime: Any
) -> None:
    """Admins manage every other account; their own needs the current password; others may not at all."""
    own = as_admin.post(
        f"/inbox/admin/operators/{world.admin}/password", data={"new_password": NEW, "confirm": NEW}
    )
    assert own.status_code == 302 and own.headers["Location"].endswith(PAGE)
    assert login(as_admin.application.test_client(), "admin@example.id", NEW).status_code == 401
    assert as_admin.get("/inbox/admin/operators/999999/password").status_code == 404
    before = _hash(runtime, world.admin)
    refused = as_coordinator.post(
        f"/inbox/admin/operators/{world.admin}/password", data={"new_password": NEW, "confirm": NEW}
    )
    assert refused.status_code == 403 and _hash(runtime, world.admin) == before


def test_admin_reset_form_carries_a_csrf_token(runtime: Any, world: World) -> None:
    from gateway.app import create_app

    client = create_app(runtime=runtime).test_client()
    html = client.get("/inbox/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    assert (
        client.post(
            "/inbox/login", data={"email": "admin@example.id", "password": PASSWORD, "csrf_token": token}
        ).status_code
        == 302
    )
    target = f"/inbox/admin/operators/{world.dlh}/password"
    assert client.post(target, data={"new_password": NEW, "confirm": NEW}).status_code == 400
    assert (
        client.post(
            PAGE, data={"current_password": PASSWORD, "new_password": NEW, "confirm": NEW}
        ).status_code
        == 400
    )
    assert _hash(runtime, world.dlh) == _hash(runtime, world.dpupr)  # both still the fixture's password
    form_token = re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', client.get(target).get_data(as_text=True)
    ).group(1)  # type: ignore[union-attr]
    ok = client.post(target, data={"new_password": NEW, "confirm": NEW, "csrf_token": form_token})
    assert ok.status_code == 302
