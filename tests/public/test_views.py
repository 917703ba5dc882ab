"""The public page, the tracking page and what they must never show."""

from __future__ import annotations

import re
from typing import Any

from tests.public.conftest import CITIZEN_EMAIL, CITIZEN_NIK, SECRET_TEXT


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_page_shows_the_figures(seeded: Any, client: Any) -> None:
    for path in ("/", "/statistik"):
        response = client.get(path)
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert re.search(r'id="total">6<', html)
        assert re.search(r'id="open">3<', html)
        assert re.search(r'id="within-deadline">50%<', html)
        assert re.search(r'id="median-follow-up">1.5<', html)
        assert re.search(r'id="median-resolution">5.5<', html)
        assert re.search(r'id="status-resolved">2<', html)
        assert "<svg" in html and "Dinas Pekerjaan Umum dan Penataan Ruang" in html


def test_page_has_no_personal_data(seeded: Any, client: Any) -> None:
    html = client.get("/statistik").get_data(as_text=True)
    digits_only = re.sub(r"[\s.\-()+]", "", _text(html))
    for phone in ("81234567890", "81298765432", "81377778888", "85711112222"):
        assert phone not in digits_only
    assert CITIZEN_NIK not in digits_only
    # No run of 9+ digits, however grouped, anywhere in the page's text (cells are split by "|").
    cells = re.sub(r"<[^>]+>", "|", html)
    assert not re.search(r"\d(?:[ .\-()]?\d){8,}", cells)
    assert CITIZEN_EMAIL not in html and "andi@example.org" not in html
    assert not re.search(r"[\w.+-]+@[\w-]+\.[\w.]+", html)
    for name in ("Budi", "Santoso", "Siti", "Aminah", "Rahasia Orang"):
        assert name not in html
    assert SECRET_TEXT not in html and "10000036" not in html  # the confidential ticket
    assert "B. S." in html  # the public reporter's initials
    assert "Jalan berlubang besar di Jl. Melati" in html


def test_search_matches_redacted_text_only(seeded: Any, client: Any) -> None:
    found = client.get("/?q=lampu").get_data(as_text=True)
    assert "#10000012" in found and "#10000004" not in found
    # A phone number or a name must not find the ticket that mentions it.
    for probe in ("0812-3456-7890", "Santoso", "budi.santoso", "RAHASIA"):
        html = client.get("/", query_string={"q": probe}).get_data(as_text=True)
        assert "#10000004" not in html and "#10000036" not in html
    by_number = client.get("/?q=%2310000020").get_data(as_text=True)
    assert "#10000020" in by_number and "#10000012" not in by_number
    filtered = client.get("/?status=archived").get_data(as_text=True)
    assert "#10000057" in filtered and "#10000004" not in filtered


def test_bad_parameters_answer_400(seeded: Any, client: Any) -> None:
    for query in ("foo=1", "page=0", "page=abc", "status=gone", "agency=nope", "lang=fr", "q=" + "x" * 201):
        response = client.get("/statistik?" + query)
        assert response.status_code == 400, query


def test_english(seeded: Any, client: Any) -> None:
    html = client.get("/statistik?lang=en").get_data(as_text=True)
    assert 'lang="en"' in html and "Reports received" in html and "Resolved on time" in html


def test_tracking_page(seeded: Any, client: Any) -> None:
    response = client.get("/lacak/10000004")
    assert response.status_code == 200
    text = _text(response.get_data(as_text=True))
    assert "Selesai" in text and "Dinas Pekerjaan Umum" in text and "Jalan rusak" in text
    assert "Budi" not in text and "catatan internal" not in text and "0812" not in text
    assert client.get("/lacak/%2310000004").status_code == 200


def test_confidential_ticket_shows_only_its_status(seeded: Any, client: Any) -> None:
    response = client.get("/lacak/10000036")
    assert response.status_code == 200
    text = _text(response.get_data(as_text=True))
    assert "Terdisposisi" in text and "rahasia" in text
    assert "Dinas Kesehatan" not in text and "Layanan kesehatan" not in text and "RAHASIA" not in text


def test_invalid_check_digit_is_a_clear_404(seeded: Any, client: Any) -> None:
    response = client.get("/lacak/10000005")
    assert response.status_code == 404
    assert "Nomor laporan tidak valid" in response.get_data(as_text=True)
    assert client.get("/lacak/abc").status_code == 404
    missing = client.get("/lacak/10000103")  # valid check digit, no such ticket
    assert missing.status_code == 404 and "tidak ditemukan" in missing.get_data(as_text=True)


def test_track_form_redirects(seeded: Any, client: Any) -> None:
    response = client.get("/lacak?nomor=%2310000004")
    assert response.status_code == 302 and response.headers["Location"].endswith("/lacak/10000004")
