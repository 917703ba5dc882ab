"""Reassembling a concatenated SMS from its parts.

A long SMS reaches the aggregator as separate parts, each pushed to our webhook
on its own, in any order and sometimes twice (the aggregator retries when our
answer is slow). The gateway stores every part as it comes and calls
`merge_segments` once all parts are in, or once it stops waiting for the missing
ones: a citizen's complaint is never dropped because one part got lost, the gap is
marked instead.

Pure: no I/O, no clock. The gateway owns the waiting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from adapters.base import InboundMessage

MISSING_PART = "[…]"

# The most parts one concatenated SMS can have: the user data header numbers parts in one
# octet (GSM 03.40), so no phone sends more than 255. A webhook claiming more is malformed,
# and the bound keeps a forged total from costing anything where parts are counted.
MAX_PARTS = 255


def merge_segments(parts: Sequence[InboundMessage]) -> InboundMessage:
    """One message from the parts of a concatenated SMS.

    Orders parts by their number, drops duplicates (the first copy received wins),
    joins the texts without a separator (phones cut parts mid-word) and puts
    ``[…]`` where a part is missing. The result takes the provider id and
    timestamp of the earliest part it has, carries no ``segment`` and keeps every
    part's raw payload under ``raw["parts"]`` in part order.
    """
    if not parts:
        raise ValueError("no parts to merge")
    for part in parts:
        if part.segment is None:
            raise ValueError(f"part {part.provider_message_id} is not a segment")
    first = parts[0]
    assert first.segment is not None
    reference = first.segment.reference
    for part in parts:
        assert part.segment is not None
        if part.segment.reference != reference or part.sender != first.sender:
            raise ValueError("parts belong to different concatenated messages")

    by_number: dict[int, InboundMessage] = {}
    for part in parts:
        assert part.segment is not None
        by_number.setdefault(part.segment.number, part)

    # Walk the parts received, not the numbers 1..total: the work follows what arrived,
    # whatever total a part claims.
    total = max(max(p.segment.total for p in parts if p.segment), max(by_number))
    texts: list[str] = []
    expected = 1
    for number in sorted(by_number):
        if number > expected:
            texts.append(MISSING_PART)
        texts.append(by_number[number].text)
        expected = number + 1
    if expected <= total:
        texts.append(MISSING_PART)

    ordered = [by_number[n] for n in sorted(by_number)]
    lead = ordered[0]
    timestamps = [p.timestamp for p in ordered if p.timestamp is not None]
    return replace(
        lead,
        text="".join(texts),
        segment=None,
        timestamp=min(timestamps) if timestamps else None,
        raw={"parts": [dict(p.raw) for p in ordered], "reference": reference, "total": total},
    )
