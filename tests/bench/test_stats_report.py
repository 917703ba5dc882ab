"""The benchmark's pure parts: percentile/ratio arithmetic, goal checks and the report writer.

Nothing here is timed; the benchmark itself runs with `python -m bench.run`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import report, stats
from bench.driver import DESCRIPTION, DONE, LOCATION, next_answer
from bench.providers import reply_key
from gateway.devtools.loopback.server import RecordedRequest


def test_percentile_interpolates_between_ranks() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert stats.percentile(values, 50) == 3.0
    assert stats.percentile(values, 0) == 1.0
    assert stats.percentile(values, 100) == 5.0
    assert stats.percentile(values, 95) == pytest.approx(4.8)
    assert stats.percentile([7.0], 99) == 7.0
    assert stats.percentile([], 50) is None
    with pytest.raises(ValueError):
        stats.percentile(values, 101)


def test_percentile_ignores_input_order() -> None:
    assert stats.percentile([5.0, 1.0, 4.0, 2.0, 3.0], 25) == 2.0


def test_latency_summary_reports_milliseconds() -> None:
    summary = stats.latency_summary([0.010, 0.020, 0.030, 0.040, 1.0])
    assert summary["n"] == 5
    assert summary["p50_ms"] == 30.0
    assert summary["max_ms"] == 1000.0
    assert stats.latency_summary([])["p99_ms"] is None


def test_ratio_and_rate_guard_against_missing_or_zero() -> None:
    assert stats.ratio(70.0, 100.0) == 0.7
    assert stats.ratio(None, 100.0) is None
    assert stats.ratio(5.0, 0.0) is None
    assert stats.rate(100, 4.0) == 25.0
    assert stats.rate(3, 0.0) is None


def test_per_second_buckets_and_sustained_rate() -> None:
    assert stats.per_second([0.1, 0.5, 1.2, 2.9, 3.5, -1.0], 0.0, 3.0) == [2, 1, 1]
    stamps = [i * 0.1 for i in range(101)]  # 10 per second for 10 seconds
    assert stats.sustained_rate(stamps) == pytest.approx(10.0, rel=0.01)
    assert stats.sustained_rate([1.0, 2.0]) is None


def test_memory_trend_fits_the_second_half() -> None:
    # Warm-up jump in the first half, then flat: not a leak.
    samples = [(float(t), 100.0 + (50.0 if t >= 5 else 0.0)) for t in range(0, 10)]
    samples += [(float(t), 150.0) for t in range(10, 20)]
    trend = stats.memory_trend(samples)
    assert trend["slope_mb_per_min"] == 0.0
    assert trend["max_mb"] == 150.0
    growing = [(float(t), 100.0 + t / 60.0) for t in range(0, 600, 5)]  # 1 MB per minute
    assert stats.memory_trend(growing)["slope_mb_per_min"] == pytest.approx(1.0, rel=0.01)
    assert stats.memory_trend([])["end_mb"] is None


def test_goals_compare_in_the_right_direction() -> None:
    goals = {
        g["goal"]: g["met"]
        for g in stats.evaluate_goals({"ack_ratio": 0.8, "ack_p99_ms_at_100": 150.0, "errors": 0})
    }
    assert goals["ack_ratio"] is True
    assert goals["ack_p99_ms_at_100"] is False
    assert goals["errors"] is True
    assert goals["e2e_ratio"] is None


def test_citizen_answers_follow_the_bot_questions() -> None:
    assert next_answer("Di mana lokasinya? Tulis nama jalan") == LOCATION
    assert next_answer("Pilih kategori laporan:\n1. Jalan rusak") == "1"
    assert next_answer("Ringkasan laporan:\n... Balas YA untuk kirim") == "YA"
    assert next_answer("Terima kasih, laporan Anda tercatat: #12345678.") == DONE
    assert next_answer("Apa yang terjadi? Ceritakan keluhan Anda.") == DESCRIPTION
    assert next_answer("Lokasi diterima.") is None


def test_reply_key_reads_each_providers_recipient() -> None:
    form = RecordedRequest(
        "POST",
        "/2010-04-01/Accounts/AC1/Messages.json",
        {},
        {"content-type": "application/x-www-form-urlencoded"},
        b"To=whatsapp%3A%2B6281400000001&Body=Halo",
    )
    assert reply_key("twilio", form) == ("twilio-wa:6281400000001", "Halo")
    meta = RecordedRequest(
        "POST",
        "/v21.0/1065/messages",
        {},
        {"content-type": "application/json"},
        json.dumps(
            {"to": "6281500000002", "type": "interactive", "interactive": {"body": {"text": "Pilih"}}}
        ).encode(),
    )
    assert reply_key("whatsapp", meta) == ("whatsapp:6281500000002", "Pilih")
    assert reply_key("telegram", RecordedRequest("POST", "/botX/getMe", {}, {}, b"")) is None


def _results() -> dict:
    return {
        "started_at": "2026-01-02T03:04:05+00:00",
        "settings": {"database": "sqlite", "web_workers": 2, "workers": 2, "provider_delay_ms": 200},
        "floors": {"ack_max_rps": 800.0, "noop_jobs_per_s": 300.0},
        "gateway": {"ack_max_rps": 600.0, "e2e_msgs_per_s": 160.0},
        "ratios": {"ack_ratio": 0.75, "e2e_ratio": 0.533},
        "phases": {
            "fixed_100": {"ack": {"p50_ms": 5.0, "p99_ms": 40.0}, "ack_ms_sample": [1.0, 2.0, 5.0]},
            "fixed_50": {"reply": {"p50_ms": 300.0, "p95_ms": 700.0}, "reply_ms_sample": [250.0, 700.0]},
        },
        "errors_total": 0,
        "memory": {"web": {"end_mb": 120.0, "slope_mb_per_min": 0.1}, "workers": {"end_mb": 150.0}},
    }


def test_markdown_row_carries_the_headline_numbers() -> None:
    row = report.markdown_row(_results())
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[0] == "2026-01-02 03:04"
    assert cells[1] == "sqlite"
    assert cells[4:10] == ["800", "600", "0.75", "300", "160.0", "0.53"]
    assert cells[10] == "5.0 / 40.0"
    assert cells[11] == "300 / 700"
    assert cells[12] == "0"
    assert cells[-1] == "0.10 / –"
    assert len(cells) == report.TABLE_HEADER.splitlines()[0].count("|") - 1


def test_append_row_keeps_prose_and_adds_rows_in_order(tmp_path: Path) -> None:
    doc = tmp_path / "performance.md"
    doc.write_text("# Performance\n\nMethod text.\n", encoding="utf-8")
    report.append_row(doc, "| first |")
    report.append_row(doc, "| second |")
    text = doc.read_text(encoding="utf-8")
    assert text.startswith("# Performance\n\nMethod text.\n")
    assert text.count(report.TABLE_START) == 1 and text.count(report.TABLE_END) == 1
    body = text.split(report.TABLE_START)[1].split(report.TABLE_END)[0]
    assert body.index("| first |") < body.index("| second |")
    assert body.index(report.TABLE_HEADER.splitlines()[0]) < body.index("| first |")


def test_write_json_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "out" / "run.json"
    report.write_json(path, _results())
    assert json.loads(path.read_text())["ratios"]["ack_ratio"] == 0.75
