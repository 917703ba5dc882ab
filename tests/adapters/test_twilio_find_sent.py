"""`TwilioAdapter.find_sent`: after a worker died during a send, Twilio's message list says
whether the message was accepted. The real twilio client against the loopback stand-in,
which answers ``GET .../Messages.json`` with Twilio's filters and paging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from adapters.base import OutboundMessage
from adapters.twilio import TwilioAdapter
from tests.conftest import channel_env


@pytest.fixture
def twilio(providers: dict[str, Any]) -> Any:
    providers["twilio"].clear()
    yield providers["twilio"]
    providers["twilio"].clear()


@pytest.fixture
def adapter(providers: dict[str, Any], twilio: Any) -> TwilioAdapter:
    built = TwilioAdapter.from_env(channel_env(providers))
    assert built is not None
    return built


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def test_a_message_twilio_accepted_is_found_by_recipient_time_and_text(adapter: TwilioAdapter) -> None:
    before = _naive_utc(datetime.now(UTC)) - timedelta(seconds=2)
    sent = adapter.send(OutboundMessage("twilio", "tel:+6281244440001", "Laporan Anda kami terima."))
    adapter.send(OutboundMessage("twilio", "tel:+6281244440001", "Pesan lain untuk warga yang sama."))
    adapter.send(OutboundMessage("twilio", "tel:+6281244440002", "Laporan Anda kami terima."))

    found = adapter.find_sent("tel:+6281244440001", before, "Laporan Anda kami terima.")
    assert found is not None
    assert found.provider_message_id == sent.provider_message_id
    assert found.status == "queued"


def test_nothing_is_found_for_another_text_an_older_time_or_another_recipient(
    adapter: TwilioAdapter,
) -> None:
    adapter.send(OutboundMessage("twilio", "whatsapp:+6281244440003", "Tiket #12 sudah selesai."))
    now = _naive_utc(datetime.now(UTC))
    assert adapter.find_sent("whatsapp:+6281244440003", now - timedelta(seconds=5), "Teks lain") is None
    assert (
        adapter.find_sent("whatsapp:+6281244440004", now - timedelta(seconds=5), "Tiket #12 sudah selesai.")
        is None
    )
    assert (
        adapter.find_sent("whatsapp:+6281244440003", now + timedelta(minutes=5), "Tiket #12 sudah selesai.")
        is None
    )
    found = adapter.find_sent(
        "whatsapp:+6281244440003", now - timedelta(seconds=5), "Tiket #12 sudah selesai."
    )
    assert found is not None


def test_the_stand_in_lists_and_pages_like_twilio(adapter: TwilioAdapter, twilio: Any) -> None:
    for i in range(3):
        adapter.send(OutboundMessage("twilio", "tel:+6281244440005", f"Balasan nomor {i}"))
    url = f"{twilio.base_url}/2010-04-01/Accounts/{adapter.account_sid}/Messages.json"
    auth = (adapter.account_sid, adapter.auth_token)
    page = requests.get(url, params={"To": "+6281244440005", "PageSize": 2}, auth=auth, timeout=5).json()
    assert [m["body"] for m in page["messages"]] == ["Balasan nomor 2", "Balasan nomor 1"]  # newest first
    assert page["page"] == 0 and page["page_size"] == 2 and page["next_page_uri"]
    assert "_sent_at" not in page["messages"][0] and page["messages"][0]["date_sent"]
    rest = requests.get(twilio.base_url + page["next_page_uri"], auth=auth, timeout=5).json()
    assert [m["body"] for m in rest["messages"]] == ["Balasan nomor 0"] and rest["next_page_uri"] is None
    listed = adapter.client.messages.list(to="+6281244440005", page_size=2)  # the library follows pages
    assert len(listed) == 3
    assert requests.get(url, auth=("AC" + "9" * 32, "wrong"), timeout=5).status_code == 401
