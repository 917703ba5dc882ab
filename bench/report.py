"""Writing the results: a JSON file, a PNG chart, and one row in docs/performance.md.

The Markdown table lives between two marker comments in docs/performance.md so that the
prose around it is edited by hand and every run only adds a row.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TABLE_START = "<!-- bench:results:start -->"
TABLE_END = "<!-- bench:results:end -->"
TABLE_HEADER = (
    "| date | db | web/workers | delay ms | floor ack/s | ack/s | ratio | floor jobs/s | e2e msg/s | ratio "
    "| ack p50/p99 @100 ms | reply p50/p95 @50 ms | errors | web/worker MB | MB/min |\n"
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
)


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def markdown_row(results: dict[str, Any]) -> str:
    """One table row summarising a run."""
    s = results.get("settings", {})
    f = results.get("floors", {})
    g = results.get("gateway", {})
    r = results.get("ratios", {})
    at100 = results.get("phases", {}).get("fixed_100", {})
    at50 = results.get("phases", {}).get("fixed_50", {})
    mem = results.get("memory", {})
    cells = [
        str(results.get("started_at", ""))[:16].replace("T", " "),
        s.get("database", "?"),
        f"{s.get('web_workers', '?')}/{s.get('workers', '?')}",
        _fmt(s.get("provider_delay_ms")),
        _fmt(f.get("ack_max_rps"), 0),
        _fmt(g.get("ack_max_rps"), 0),
        _fmt(r.get("ack_ratio"), 2),
        _fmt(f.get("noop_jobs_per_s"), 0),
        _fmt(g.get("e2e_msgs_per_s"), 1),
        _fmt(r.get("e2e_ratio"), 2),
        f"{_fmt(at100.get('ack', {}).get('p50_ms'), 1)} / {_fmt(at100.get('ack', {}).get('p99_ms'), 1)}",
        f"{_fmt(at50.get('reply', {}).get('p50_ms'), 0)} / {_fmt(at50.get('reply', {}).get('p95_ms'), 0)}",
        _fmt(results.get("errors_total")),
        f"{_fmt(mem.get('web', {}).get('end_mb'), 0)} / {_fmt(mem.get('workers', {}).get('end_mb'), 0)}",
        f"{_fmt(mem.get('web', {}).get('slope_mb_per_min'), 2)} / "
        f"{_fmt(mem.get('workers', {}).get('slope_mb_per_min'), 2)}",
    ]
    return "| " + " | ".join(cells) + " |"


def append_row(markdown_path: Path, row: str) -> None:
    """Add ``row`` at the end of the results table, creating the table (or file) when missing."""
    text = markdown_path.read_text(encoding="utf-8") if markdown_path.exists() else "# Performance\n"
    if TABLE_START not in text or TABLE_END not in text:
        text = text.rstrip("\n") + f"\n\n## Results\n\n{TABLE_START}\n{TABLE_HEADER}\n{TABLE_END}\n"
    head, _, rest = text.partition(TABLE_END)
    head = head.rstrip("\n") + "\n" + row + "\n"
    markdown_path.parent.mkdir(parents=True, exist_ok=True)
    markdown_path.write_text(head + TABLE_END + rest, encoding="utf-8")


def write_json(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, sort_keys=False, default=str) + "\n", encoding="utf-8")


def write_chart(path: Path, results: dict[str, Any]) -> bool:
    """Latency distributions (CDF, log scale) and throughput over time; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    phases: dict[str, Any] = results.get("phases", {})
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    ax_ack, ax_reply, ax_tput = axes
    for name, phase in phases.items():
        sample = sorted(phase.get("ack_ms_sample") or [])
        if sample:
            ys = [(i + 1) / len(sample) for i in range(len(sample))]
            ax_ack.plot(sample, ys, label=name)
        replies = sorted(phase.get("reply_ms_sample") or [])
        if replies:
            ys = [(i + 1) / len(replies) for i in range(len(replies))]
            ax_reply.plot(replies, ys, label=name)
        timeline = phase.get("ack_timeline") or []
        if timeline:
            ax_tput.plot(range(len(timeline)), timeline, label=f"{name} acks/s")
        done = phase.get("done_timeline") or []
        if done:
            ax_tput.plot(range(len(done)), done, linestyle="--", label=f"{name} processed/s")
    ax_ack.set(title="webhook ack latency (CDF)", xlabel="ms", ylabel="share of requests", xscale="log")
    ax_reply.set(title="inbound-to-reply latency (CDF)", xlabel="ms", xscale="log")
    ax_tput.set(title="throughput over time", xlabel="seconds into phase", ylabel="per second")
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    settings = results.get("settings", {})
    fig.suptitle(
        f"lapor-gateway bench {str(results.get('started_at', ''))[:16]}  db={settings.get('database')}  "
        f"web={settings.get('web_workers')} workers={settings.get('workers')}  "
        f"provider delay={settings.get('provider_delay_ms')} ms  "
        f"cpus={results.get('machine', {}).get('cpus')}"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
