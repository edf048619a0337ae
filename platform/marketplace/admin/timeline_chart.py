"""The dashboard's live chart: decisions per visitor class over the window, stacked, as SVG.

Drawn on the server with pygal (no chart script, nothing from a CDN), served as an image the
page reloads on each poll. An image document runs no scripts, so pygal's tooltips are left out.
"""

from __future__ import annotations

import re
from typing import Any

import pygal
from pygal.style import Style

# One colour per class, the same on every draw so the projector's legend never shuffles.
CLASS_COLOURS = {
    "human": "#2f6f4f",
    "first-party-agent": "#1f5fa8",
    "verified-agent": "#7b4fb3",
    "search-engine": "#6f8f2f",
    "declared-crawler": "#c0392b",
    "declared-agent": "#d35400",
    "suspected-agent": "#b8860b",
    "automation": "#7f7f7f",
}
OTHER_COLOUR = "#444444"
_SCRIPT = re.compile(rb"<script.*?</script>", re.DOTALL)
CHART_CSP = "default-src 'none'; style-src 'unsafe-inline'"


def timeline_svg(timeline: dict[str, Any], window_s: int) -> bytes:
    """A stacked area chart of decisions per class in each bucket of `timeline` (traffic_stats)."""
    series: dict[str, list[int]] = timeline.get("series") or {}
    width = int(timeline.get("bucket_seconds") or 1)
    buckets = list(timeline.get("buckets") or [])
    order = [c for c in CLASS_COLOURS if c in series] + sorted(set(series) - set(CLASS_COLOURS))
    colours = tuple(CLASS_COLOURS.get(c, OTHER_COLOUR) for c in order) or (OTHER_COLOUR,)
    style = Style(
        background="#ffffff",
        plot_background="#ffffff",
        foreground="#222222",
        foreground_strong="#111111",
        foreground_subtle="#dddddd",
        colors=colours,
        opacity="0.85",
        opacity_hover="0.95",
        font_family="system-ui, sans-serif",
        label_font_size=14,
        major_label_font_size=14,
        legend_font_size=15,
        value_font_size=12,
    )
    chart = pygal.StackedLine(
        fill=True,
        show_dots=False,
        width=960,
        height=300,
        style=style,
        js=[],
        legend_at_bottom=True,
        legend_at_bottom_columns=4,
        truncate_legend=-1,
        truncate_label=-1,
        show_minor_x_labels=False,
        x_labels_major_every=max(1, len(buckets) // 6),
        y_title=f"decisions per {width} s",
        include_x_axis=True,
        margin=8,
        no_data_text="No traffic yet",
    )
    # Each bucket is labelled by when it ends, so the last one, which ends now, reads "now".
    chart.x_labels = [
        f"-{window_s - start - width} s" if start + width < window_s else "now" for start in buckets
    ]
    for cls in order:
        chart.add(cls, series[cls])
    svg: bytes = chart.render()
    # pygal always writes a small config script; an image runs none, so it is only noise.
    return _SCRIPT.sub(b"", svg)
