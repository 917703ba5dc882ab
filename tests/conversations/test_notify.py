"""Ticket updates as the citizen reads them: every status, both languages, any length."""

from __future__ import annotations

import pytest

from conversations.notify import WORDED, render_operator_reply, render_status_update, status_label
from tests.catalogue import catalogue_config

CONFIG = catalogue_config()


@pytest.mark.parametrize("status", [*WORDED, "something_new"])
@pytest.mark.parametrize("language", ["id", "en"])
@pytest.mark.parametrize("note", [None, "Mohon kirim foto lokasi. " * 30])
def test_every_update_names_the_ticket_and_fits(status: str, language: str, note: str | None) -> None:
    text = render_status_update(CONFIG, "12345671", status, note, "Dinas Lingkungan Hidup", language, 160)
    assert "#12345671" in text
    assert len(text) <= 160


def test_dispatched_names_the_agency_or_says_the_responsible_one() -> None:
    assert "Dinas Pekerjaan Umum" in render_status_update(
        CONFIG, "12345671", "dispatched", None, "Dinas Pekerjaan Umum", "id", 306
    )
    assert "instansi terkait" in render_status_update(CONFIG, "12345671", "dispatched", None, None, "id", 306)


def test_deferred_carries_the_officers_question_and_asks_for_a_reply() -> None:
    text = render_status_update(CONFIG, "12345671", "deferred", "Di RT berapa tepatnya?", None, "id", 306)
    assert "Di RT berapa tepatnya?" in text and "balas" in text.lower()


def test_resolved_carries_the_follow_up_and_the_reopen_window() -> None:
    text = render_status_update(CONFIG, "12345671", "resolved", "Lubang sudah ditambal", "DPUPR", "en", 306)
    assert "Lubang sudah ditambal." in text and "10 working days" in text


def test_archived_gives_the_reason() -> None:
    assert "duplikat dari #11111114" in render_status_update(
        CONFIG, "12345671", "archived", "duplikat dari #11111114", None, "id", 306
    )


def test_a_long_note_is_shortened_but_the_closing_instruction_stays() -> None:
    text = render_status_update(CONFIG, "12345671", "deferred", "x" * 500, None, "id", 306)
    assert text.endswith("Mohon balas pesan ini.") and "..." in text


def test_operator_reply_keeps_the_number_and_as_much_text_as_fits() -> None:
    short = render_operator_reply(CONFIG, "12345671", "Terima kasih, sudah kami cek.", "id", 306)
    assert short == "Balasan petugas (#12345671): Terima kasih, sudah kami cek."
    long = render_operator_reply(CONFIG, "12345671", "kata " * 200, "en", 306)
    assert long.startswith("Officer's reply (#12345671): ") and len(long) <= 306


def test_status_labels_are_the_contracts() -> None:
    labels = [
        status_label(CONFIG, s, "id")
        for s in ("unverified", "deferred", "dispatched", "in_progress", "resolved")
    ]
    assert labels == ["Belum Terverifikasi", "Tertunda", "Terdisposisi", "Sedang Diproses", "Selesai"]
    assert status_label(CONFIG, "archived", "id") == "Arsip"
    assert status_label(CONFIG, "in_progress", "en") == "In progress"
