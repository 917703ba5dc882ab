"""A long SMS, delivered by the aggregator as concatenated parts, end to end.

Signed Vonage webhooks in (one per part, shaped as Vonage documents concatenated inbound
messages: ``concat``, ``concat-ref``, ``concat-total``, ``concat-part``), the real rq worker,
replies out to the loopback aggregator. Parts arrive in any order; a part whose siblings never
come is handled on its own after ``LAPOR_SMS_CONCAT_TIMEOUT``.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from adapters.base import InboundMessage, Segment
from adapters.sms import SmsAdapter
from adapters.sms.concat import MISSING_PART
from adapters.sms.signature import vonage_signature
from config.settings import Settings, load_settings
from gateway.messages.ingest import message_row
from gateway.store.models import Job, Message, Ticket
from gateway.work.handlers.turn import message_from_row

SENDER = "6281234567321"
PART_ONE = (
    "Jembatan kayu penghubung dusun Krajan dan dusun Sumber di desa Sukamaju sudah "
    "lapuk, dua papan lantainya patah dan anak sekolah tiap pagi harus melompati lub"
)
PART_TWO = "ang itu. Mohon segera diperbaiki sebelum ada yang jatuh ke sungai."


def vonage_part(
    secret: str,
    text: str,
    *,
    message_id: str,
    reference: str,
    total: int | str,
    number: int | str,
    msisdn: str = SENDER,
) -> dict[str, str]:
    """One part of a concatenated inbound SMS as Vonage posts it (JSON), signed."""
    now = datetime.now(UTC)
    params = {
        "msisdn": msisdn,
        "to": "1708",
        "messageId": message_id,
        "text": text,
        "type": "text",
        "keyword": text.split()[0].upper(),
        "message-timestamp": now.strftime("%Y-%m-%d %H:%M:%S"),
        "timestamp": str(int(now.timestamp())),
        "nonce": str(uuid.uuid4()),
        "concat": "true",
        "concat-ref": reference,
        "concat-total": str(total),
        "concat-part": str(number),
    }
    params["sig"] = vonage_signature(params, secret)
    return params


def post(client: Any, params: dict[str, str]) -> Any:
    return client.post("/webhooks/sms", data=json.dumps(params), content_type="application/json")


def replies(runtime: Any) -> list[Message]:
    with runtime.db.session() as session:
        return list(session.scalars(select(Message).where(Message.direction == "out").order_by(Message.id)))


def inbound(runtime: Any) -> list[Message]:
    with runtime.db.session() as session:
        return list(session.scalars(select(Message).where(Message.direction == "in").order_by(Message.id)))


def says(client: Any, runtime: Any, drain: Any, text: str) -> str:
    """A plain (single-part) SMS from the same citizen; the replies it got."""
    adapter = SmsAdapter.from_env(runtime.settings.env)
    assert adapter is not None
    before = len(replies(runtime))
    req = adapter.simulate(SENDER, text)
    res = client.open(req.path, method=req.method, headers=dict(req.headers), data=req.body)
    assert res.status_code == 200, res.get_data(as_text=True)
    drain()
    new = replies(runtime)[before:]
    assert new, f"no reply to {text!r}"
    return "\n".join(r.text for r in new)


def test_a_stored_part_is_still_a_part() -> None:
    """What the webhook stored is what the worker reads back, the part's place included."""
    part = InboundMessage(
        channel="sms",
        provider_message_id="0B00000000000A2",
        sender="tel:+6281234567321",
        text=PART_TWO,
        segment=Segment(reference="17", total=2, number=2),
    )
    again = message_from_row(message_row(part, contact_id=1))
    assert again.segment == part.segment
    assert again.provider_message_id == part.provider_message_id


def test_two_parts_second_first_become_one_complaint_and_a_ticket(
    client: Any, runtime: Any, drain: Any
) -> None:
    secret = runtime.settings.env["SMS_SIGNATURE_SECRET"]
    second = vonage_part(secret, PART_TWO, message_id="0B00000000000A2", reference="17", total=2, number=2)
    first = vonage_part(secret, PART_ONE, message_id="0B00000000000A1", reference="17", total=2, number=1)
    assert post(client, second).status_code == 200
    drain()
    assert replies(runtime) == []  # half a complaint is not answered: the gateway waits
    assert post(client, first).status_code == 200
    drain()

    parts = inbound(runtime)
    assert len(parts) == 2
    assert all(p.processed_at is not None for p in parts)
    with runtime.db.session() as session:
        failed = session.scalars(
            select(Job).where(Job.kind == "process_inbound", Job.status == "failed")
        ).all()
        assert failed == []
    [asked] = replies(runtime)  # one answer to the one (long) message: the next question
    assert "identitas" in asked.text.lower() or "lokasi" in asked.text.lower(), asked.text

    # The citizen goes on as usual: the long message did not block the next ones.
    text = asked.text
    for _ in range(4):
        if "#" in text:
            break
        if "Balas YA" in text:
            answer = "YA"
        elif "identitas" in text.lower():
            answer = "ANONIM"
        else:
            answer = "Jembatan dusun Krajan, Desa Sukamaju, Kec. Sukamaju"
        text = says(client, runtime, drain, answer)
    match = re.search(r"#(\d{8})", text)
    assert match, text
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking == match.group(1)))
        assert ticket is not None
        assert PART_ONE + PART_TWO in ticket.description  # "lub" + "ang": the cut word is whole


@pytest.mark.parametrize(
    ("total", "number", "reason"),
    [
        ("99999999", "1", "concat-total"),
        ("256", "3", "concat-total"),
        ("0", "0", "concat-total"),
        ("3", "0", "concat-part"),
        ("3", "4", "concat-part"),
        ("3", "-1", "concat-part"),
    ],
)
def test_out_of_range_part_numbers_are_refused_with_the_reason(
    client: Any, runtime: Any, total: str, number: str, reason: str
) -> None:
    secret = runtime.settings.env["SMS_SIGNATURE_SECRET"]
    params = vonage_part(
        secret, PART_ONE, message_id="0B0000000000C1", reference="5", total=total, number=number
    )
    res = post(client, params)
    assert res.status_code == 400
    assert reason in res.get_data(as_text=True)
    assert inbound(runtime) == []


class TestAfterTheWait:
    """With a one-second wait for missing parts (LAPOR_SMS_CONCAT_TIMEOUT)."""

    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        """The suite's settings with a one-second wait for missing parts."""
        return load_settings({**settings.env, "LAPOR_SMS_CONCAT_TIMEOUT": "1"}, testing=True)

    def test_a_lone_part_is_handled_on_its_own_after_the_timeout(
        self, client: Any, runtime: Any, drain: Any
    ) -> None:
        secret = runtime.settings.env["SMS_SIGNATURE_SECRET"]
        lone = vonage_part(secret, PART_ONE, message_id="0B00000000000B1", reference="90", total=2, number=1)
        assert post(client, lone).status_code == 200
        drain(wait_delayed=3)
        [row] = inbound(runtime)
        assert row.processed_at is not None
        sent = replies(runtime)
        assert len(sent) == 1, [r.text for r in sent]
        # The next message starts normally.
        assert says(client, runtime, drain, "Jembatan dusun Krajan, Desa Sukamaju")

    def test_the_missing_part_is_marked_in_the_merged_text(
        self, client: Any, runtime: Any, drain: Any
    ) -> None:
        """Parts 1 and 3 of 3; part 2 never comes: after the wait, one message with the gap marked."""
        secret = runtime.settings.env["SMS_SIGNATURE_SECRET"]
        for number, text in ((3, "sungai."), (1, PART_ONE)):
            params = vonage_part(
                secret, text, message_id=f"0B00000000000D{number}", reference="33", total=3, number=number
            )
            assert post(client, params).status_code == 200
        drain(wait_delayed=3)
        rows = inbound(runtime)
        assert len(rows) == 2 and all(r.processed_at is not None for r in rows)
        assert len(replies(runtime)) == 1
        with runtime.db.session() as session:
            from gateway.store.models import Conversation

            conv = session.scalar(select(Conversation))
            assert conv is not None
            draft = conv.state.get("draft") or {}
            assert PART_ONE + MISSING_PART + "sungai." in json.dumps(draft, ensure_ascii=False)
