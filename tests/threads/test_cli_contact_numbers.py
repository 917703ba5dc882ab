"""`contact export` and `contact erase` take a number as people write it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from gateway.cli import main
from gateway.store.models import ContactAddress
from tests.gateway.test_conversation_e2e import Citizen


def _env(runtime: Any) -> dict[str, str]:
    return dict(runtime.settings.env)


@pytest.mark.parametrize(
    "typed",
    ["0812-8888-7777", "+62 812 8888 7777", "6281288887777", "tel:0812 8888 7777", "whatsapp:+6281288887777"],
)
def test_export_finds_the_citizen_by_the_number_as_written(
    client: Any, runtime: Any, drain: Any, typed: str
) -> None:
    Citizen(client, runtime, drain, "sms", "081288887777").says(
        "Lampu jalan mati di Jl. Melati sejak kemarin"
    )
    out = CliRunner().invoke(main, ["contact", "export", typed], env=_env(runtime))
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert [a["address"] for a in data["contact"]["addresses"]] == ["tel:+6281288887777"]


def test_erase_by_number_removes_both_addresses_of_the_citizen(client: Any, runtime: Any, drain: Any) -> None:
    Citizen(client, runtime, drain, "sms", "081288886666").says(
        "Lampu jalan mati di Jl. Melati sejak kemarin"
    )
    Citizen(client, runtime, drain, "whatsapp", "+6281288886666").says("Halo")
    out = CliRunner().invoke(main, ["contact", "erase", "0812 8888 6666", "--yes"], env=_env(runtime))
    assert out.exit_code == 0, out.output
    with runtime.db.session() as session:
        assert (
            session.scalars(
                select(ContactAddress.address).where(ContactAddress.address.like("%6281288886666"))
            ).all()
            == []
        )


def test_an_unknown_or_unreadable_number_is_refused(client: Any, runtime: Any) -> None:
    for typed in ("0812-0000-0000", "12"):
        out = CliRunner().invoke(main, ["contact", "export", typed], env=_env(runtime))
        assert out.exit_code != 0 and "no contact" in out.output


def test_link_numbers_joins_contacts_split_before_linking_existed(
    client: Any, runtime: Any, drain: Any
) -> None:
    """Contacts stored before the gateway linked numbers: one command joins them, audited."""
    from gateway.store.models import AuditEntry, Contact

    with runtime.db.session() as session:  # as an older version stored them: two contacts
        for address in ("tel:+6281288885555", "whatsapp:+6281288885555", "telegram:700000123"):
            contact = Contact(display_name=None)
            session.add(contact)
            session.flush()
            session.add(ContactAddress(contact_id=contact.id, address=address, channel=address.split(":")[0]))
    out = CliRunner().invoke(main, ["contact", "link-numbers"], env=_env(runtime))
    assert out.exit_code == 0, out.output
    assert out.output.strip() == "1 contacts merged"
    with runtime.db.session() as session:
        rows = session.execute(select(ContactAddress.address, ContactAddress.contact_id))
        owners = {address: contact_id for address, contact_id in rows}
        assert owners["tel:+6281288885555"] == owners["whatsapp:+6281288885555"]
        assert owners["telegram:700000123"] != owners["tel:+6281288885555"]
        assert session.scalar(select(func.count()).select_from(Contact)) == 2
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "contact.merge")).all()
        assert "6281288885555" not in (entry.detail or "")
    again = CliRunner().invoke(main, ["contact", "link-numbers"], env=_env(runtime))
    assert again.exit_code == 0 and again.output.strip() == "0 contacts merged"
