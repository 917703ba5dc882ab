"""Reassembly of concatenated SMS parts: order, duplicates, gaps."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.base import InboundMessage, Segment, WebhookRequest
from adapters.sms import SmsAdapter, merge_segments
from adapters.sms.concat import MAX_PARTS, MISSING_PART

DATA = Path(__file__).parent / "testdata" / "sms"


def part(name: str) -> InboundMessage:
    adapter = SmsAdapter("secret")
    body = (DATA / name).read_bytes()
    request = WebhookRequest(
        "POST", "http://x/webhooks/sms", "/webhooks/sms", {"content-type": "application/json"}, body
    )
    return adapter.parse(request).messages[0]


def texts() -> list[str]:
    return [json.loads((DATA / f"vonage_concat_part{i}.json").read_text())["text"] for i in (1, 2, 3)]


def test_parts_out_of_order_and_duplicated() -> None:
    parts = [
        part("vonage_concat_part3.json"),
        part("vonage_concat_part2.json"),
        part("vonage_concat_part2_retry.json"),
        part("vonage_concat_part1.json"),
    ]
    merged = merge_segments(parts)
    assert merged.text == "".join(texts())
    assert "dinas terkait" in merged.text  # the word cut between parts 1 and 2 is whole again
    assert merged.segment is None
    assert merged.provider_message_id == "1B00000000000001"
    assert merged.sender == "tel:+6281234567890"
    assert len(merged.raw["parts"]) == 3
    assert [p["concat-part"] for p in merged.raw["parts"]] == ["1", "2", "3"]
    assert merged.timestamp == datetime(2024, 6, 1, 3, 4, 5, tzinfo=UTC)


def test_missing_middle_part_marked() -> None:
    one, _, three = texts()
    merged = merge_segments([part("vonage_concat_part3.json"), part("vonage_concat_part1.json")])
    assert merged.text == one + MISSING_PART + three


def test_missing_first_and_last_parts_marked() -> None:
    merged = merge_segments([part("vonage_concat_part2.json")])
    assert merged.text == MISSING_PART + texts()[1] + MISSING_PART
    assert merged.provider_message_id == "1B00000000000002"


def _msg(
    number: int, reference: str = "7", sender: str = "tel:+6281234567890", total: int = 2
) -> InboundMessage:
    return InboundMessage(
        channel="sms",
        provider_message_id=f"id{number}{reference}",
        sender=sender,
        text=f"<{number}>",
        segment=Segment(reference=reference, total=total, number=number),
    )


def test_consecutive_missing_parts_marked_once() -> None:
    merged = merge_segments([_msg(1, total=5), _msg(5, total=5)])
    assert merged.text == "<1>" + MISSING_PART + "<5>"


@pytest.mark.parametrize(
    "parts",
    [
        [],
        [_msg(1), _msg(2, reference="8")],
        [_msg(1), _msg(2, sender="tel:+6285700000000")],
        [InboundMessage(channel="sms", provider_message_id="x", sender="tel:+6281234567890", text="whole")],
    ],
    ids=["nothing", "two references", "two senders", "not a segment"],
)
def test_refuses_mixed_or_empty(parts: list[InboundMessage]) -> None:
    with pytest.raises(ValueError):
        merge_segments(parts)


def test_work_follows_the_parts_received_not_the_total_claimed() -> None:
    """A forged or stored-before-the-bound total (parts are never counted up to it)."""
    merged = merge_segments([_msg(2, total=10**12), _msg(1, total=10**12)])
    assert merged.text == "<1><2>" + MISSING_PART


def test_highest_part_of_the_largest_message() -> None:
    merged = merge_segments([_msg(MAX_PARTS, total=MAX_PARTS), _msg(1, total=MAX_PARTS)])
    assert merged.text == "<1>" + MISSING_PART + f"<{MAX_PARTS}>"
