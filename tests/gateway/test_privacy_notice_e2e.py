"""The privacy notice reaches a new citizen once per channel, through the real webhooks and worker."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from gateway.store.models import Message
from tests.gateway.test_conversation_e2e import Citizen


def _outbound_count(runtime: Any) -> int:
    with runtime.db.session() as session:
        return len(session.scalars(select(Message.id).where(Message.direction == "out")).all())


@pytest.mark.parametrize(
    ("channel", "sender"),
    [("sms", "081234567101"), ("telegram", "700000101"), ("whatsapp", "+6281234567102")],
)
def test_first_contact_is_told_what_is_kept_once(
    client: Any, runtime: Any, drain: Any, channel: str, sender: str
) -> None:
    months = runtime.settings.retention_months
    citizen = Citizen(client, runtime, drain, channel, sender)
    first = citizen.says("Jalan berlubang besar di depan SDN 3 Sukamaju, sudah dua bulan")
    assert first.count("UU 27/2022") == 1, first
    assert str(months) in first
    if channel == "sms":
        assert _outbound_count(runtime) == 1, "the notice rode on the first reply, no extra SMS"
    later = citizen.says("Jl. Merdeka no 10, Kec. Sukamaju")
    assert "UU 27/2022" not in later
