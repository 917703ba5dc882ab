"""Server-rendered inline SVG charts: the public page needs no JavaScript and no build step."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape

#: Drawing size in SVG user units; the SVG scales to the page width through its viewBox.
WIDTH, HEIGHT = 720, 260
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 40, 10, 20, 40


def _nice_max(value: int) -> int:
    """A round axis maximum at or above ``value`` (1, 2, 5 x 10^n), so gridlines land on whole numbers."""
    if value <= 5:
        return 5
    magnitude = 1
    while magnitude * 10 <= value:
        magnitude *= 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def trend_svg(
    trend: Sequence[dict[str, Any]],
    *,
    received_label: str,
    resolved_label: str,
    caption: str,
    month_names: Sequence[str] | None = None,
) -> Markup:
    """Grouped bars per month: received (dark) and resolved (green), with a y axis and a legend."""
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    top = _nice_max(max([1, *(max(m["received"], m["resolved"]) for m in trend)]))
    slot = plot_w / max(1, len(trend))
    bar = max(2.0, slot * 0.35)
    parts: list[str] = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="trend-title" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="trend-title">{escape(caption)}</title>',
    ]
    for i in range(5):
        value = top * i // 4
        y = MARGIN_TOP + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" class="axis" text-anchor="end">{value}</text>'
        )
    for index, month in enumerate(trend):
        x0 = MARGIN_LEFT + slot * index + (slot - 2 * bar) / 2
        for offset, key, css in ((0.0, "received", "received"), (bar, "resolved", "resolved")):
            height = plot_h * month[key] / top
            y = MARGIN_TOP + plot_h - height
            label = f"{month['month']}: {month[key]}"
            parts.append(
                f'<rect x="{x0 + offset:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}" '
                f'class="{css}"><title>{escape(label)}</title></rect>'
            )
        year, number = month["month"].split("-")
        name = month_names[int(number) - 1] if month_names else number
        parts.append(
            f'<text x="{x0 + bar:.1f}" y="{HEIGHT - MARGIN_BOTTOM + 16}" class="axis" '
            f'text-anchor="middle">{escape(name)}</text>'
        )
        if number == "01" or index == 0:
            parts.append(
                f'<text x="{x0 + bar:.1f}" y="{HEIGHT - MARGIN_BOTTOM + 30}" class="axis year" '
                f'text-anchor="middle">{escape(year)}</text>'
            )
    legend_x = WIDTH - MARGIN_RIGHT - 220
    parts.append(
        f'<rect x="{legend_x}" y="2" width="12" height="12" class="received"/>'
        f'<text x="{legend_x + 16}" y="12" class="axis">{escape(received_label)}</text>'
        f'<rect x="{legend_x + 110}" y="2" width="12" height="12" class="resolved"/>'
        f'<text x="{legend_x + 126}" y="12" class="axis">{escape(resolved_label)}</text>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
