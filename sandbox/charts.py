"""The report's charts: one question each, as inline SVG (pygal), with 95 % intervals.

Rules kept across every chart: one colour per channel (Okabe-Ito, safe for colour-blind
viewers), red only for refusals, one unit per axis, whole numbers on count axes, labels never
cut, a proportional font large enough for a projector.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pygal
from pygal.style import Style

from sandbox.findings import (
    CHANNEL_NAMES,
    CHANNEL_WORDS,
    CHANNELS,
    figure,
    focus,
    label,
    share_of,
    sweeps,
)

FONT = "system-ui, 'Segoe UI', 'DejaVu Sans', 'Liberation Sans', Arial, sans-serif"
CHANNEL_COLOURS = {
    "browse": "#0072B2",
    "assistant": "#E69F00",
    "signed-partner": "#009E73",
    "declared-shopper": "#56B4E9",
    "disguised-browser": "#CC79A7",
    # Beyond the eight Okabe-Ito colours: two of Paul Tol's, also safe for colour-blind eyes.
    "protocol-shopper": "#882255",
    "protocol-shopper-mcp": "#44AA99",
    "elsewhere": "#000000",
}
FELL_BACK = "#F0E442"
REFUSED = "#D55E00"
DARK = "#3E4C59"
MID = "#7B8794"
LIGHT = "#A7B1BC"
POLICY_COLOURS = {"closed": "#1F2933", "open": MID}
REFUSING = ("block", "challenge", "throttle", "pay")
WIDTH = 960


@dataclass(frozen=True)
class Chart:
    """One figure of the report: the question it answers, the SVG, and how to read it."""

    heading: str
    svg: str
    caption: str


def _style(colours: Sequence[str], **extra: Any) -> Style:
    return Style(
        background="white",
        plot_background="white",
        foreground="#1f2933",
        foreground_strong="#111111",
        foreground_subtle="#cbd2d9",
        colors=tuple(colours),
        font_family=FONT,
        label_font_size=17,
        major_label_font_size=17,
        legend_font_size=17,
        value_font_size=16,
        title_font_size=20,
        opacity="1",
        opacity_hover="1",
        stroke_opacity="1",
        stroke_opacity_hover="1",
        guide_stroke_color="#cbd2d9",
        major_guide_stroke_color="#cbd2d9",
        **extra,
    )


def _chart(
    kind: Any, colours: Sequence[str], *, height: int = 420, line: bool = False, **config: Any
) -> Any:
    # pygal sets the stroke width on each line itself, so only the style can thicken lines.
    style = _style(colours, stroke_width=4, stroke_width_hover=4) if line else _style(colours)
    return kind(
        style=style,
        js=[],  # no script: the report is a static page that must open offline
        width=WIDTH,
        height=height,
        legend_at_bottom=True,
        legend_at_bottom_columns=config.pop("columns", 3),
        legend_box_size=16,
        truncate_label=-1,
        truncate_legend=-1,
        print_values=False,
        margin=12,
        spacing=14,
        **config,
    )


_STRIP = re.compile(r"<!--.*?-->|<script\b.*?</script>", re.DOTALL)


def _legend_room(chart: Any) -> None:
    """Fit the bottom legend: as many columns as its longest name allows, and room for
    every row (pygal counts rows as series // columns, so two series in three columns get
    none and the legend falls off the bottom of the picture)."""
    config = chart.config
    order = len(chart.raw_series)
    if not order or not config.show_legend:
        return
    size = config.style.legend_font_size
    longest = max(len(str(kwargs.get("title", ""))) for _, kwargs in chart.raw_series)
    # A proportional font averages about 0.55 em a character; 40 px for the box and a gap.
    fits = max(1, int((WIDTH - 60) // (longest * 0.55 * size + 40)))
    columns = min(config.legend_at_bottom_columns or 3, fits, order)
    chart.legend_at_bottom_columns = columns
    height = max(config.legend_box_size, size)
    rows = math.ceil(order / columns)
    chart.margin_bottom = config.margin + math.ceil((rows - order // columns) * 1.5 * height) + 6
    # The height asked for is the plot's; the legend's rows come on top of it.
    chart.height = config.height + math.ceil(rows * 1.5 * height)


def _svg(chart: Any, n: int) -> str:
    _legend_room(chart)
    svg: str = chart.render(is_unicode=True)
    # No XML prolog inline in HTML; no generator comments (a date and links); a fixed id
    # instead of pygal's random one, so the same data gives the same file.
    svg = svg.split("?>", 1)[1] if svg.startswith("<?xml") else svg
    return _STRIP.sub("", svg).replace(str(chart.uuid), f"chart{n}")


def _ticks(top: float, *, whole: bool, steps: int = 5) -> list[float]:
    """Round axis ticks from 0 to at least `top` (whole numbers on a count axis)."""
    top = max(top, 1.0 if whole else 1e-9)
    raw = top / steps
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if whole:
        step = max(1.0, math.ceil(step))
    count = math.ceil(top / step - 1e-9)
    return [round(i * step, 10) for i in range(count + 1)]


def _value(fig: Any, scale: float = 1.0) -> dict[str, Any] | None:
    if fig is None:
        return None
    return {
        "value": fig.mean * scale,
        "ci": {"low": fig.low * scale, "high": fig.high * scale},
    }


def _top(series: Sequence[Sequence[dict[str, Any] | None]]) -> float:
    return max((v["ci"]["high"] for values in series for v in values if v is not None), default=0.0)


def _axis(chart: Any, top: float, fmt: Callable[[float], str], *, whole: bool = False) -> None:
    ticks = _ticks(top, whole=whole)
    chart.range = (0, ticks[-1])
    chart.y_labels = ticks
    chart.value_formatter = fmt


def _money(v: float) -> str:
    return f"{v:,.0f}"


def _percent(v: float) -> str:
    return f"{v:.0f}%"


def _plain_number(v: float) -> str:
    return f"{v:g}"


def _whole(v: float) -> str:
    return f"{v:,.0f}"


def _channels(scenarios: Sequence[Mapping[str, Any]], key: str) -> list[str]:
    return [ch for ch in CHANNELS if any(figure(s, f"{key}.{ch}") for s in scenarios)]


def _bars(
    scenarios: Sequence[Mapping[str, Any]],
    series: Sequence[tuple[str, str, str]],
    fmt: Callable[[float], str],
    *,
    scale: float = 1.0,
    top: float | None = None,
    height: int = 400,
) -> Any:
    """Bars per scenario on one axis, one series per (name, summary key, colour); None when
    no scenario measured any of them."""
    values = [[_value(figure(s, key), scale) for s in scenarios] for _, key, _ in series]
    kept = [(name, colour, vals) for (name, _, colour), vals in zip(series, values, strict=True)
            if any(v is not None for v in vals)]  # fmt: skip
    if not kept:
        return None
    chart = _chart(
        pygal.Bar, [colour for _, colour, _ in kept], height=height, show_legend=len(kept) > 1
    )
    chart.x_labels = [label(s) for s in scenarios]
    for name, _, vals in kept:
        chart.add(name, vals)
    _axis(chart, top if top is not None else _top([vals for _, _, vals in kept]), fmt)
    return chart


def _by_channel(
    scenarios: Sequence[Mapping[str, Any]], overall: str, key: str, *, top: float | None
) -> Any:
    """The overall figure, then one bar per channel, for each scenario."""
    series = [("All journeys", overall, DARK)]
    series += [
        (CHANNEL_NAMES[ch], f"{key}.{ch}", CHANNEL_COLOURS[ch]) for ch in _channels(scenarios, key)
    ]
    return _bars(scenarios, series, _plain_number if top is None else _two, top=top, height=440)


def _two(v: float) -> str:
    return f"{v:.1f}"


def _outcomes(scenarios: Sequence[Mapping[str, Any]]) -> Any | None:
    """Journeys by outcome, the mean over each scenario's runs."""
    rows: list[dict[str, float]] = []
    for scenario in scenarios:
        runs = [r for r in scenario.get("runs") or [] if r.get("journeys")]
        counts: dict[str, float] = {}
        for run in runs:
            for journey in run["journeys"]:
                counts[_outcome(journey)] = counts.get(_outcome(journey), 0) + 1 / len(runs)
        rows.append(counts)
    if not any(rows):
        return None
    order = [f"via {ch}" for ch in CHANNELS] + ["fell back", "lost", "nothing"]
    names = {f"via {ch}": f"Bought through {CHANNEL_WORDS[ch]}" for ch in CHANNELS}
    names["via browse"] = "Bought by browsing the store"
    names.update(
        {
            "fell back": "Refused, fell back to the store",
            "lost": "Refused, bought elsewhere (lost sale)",
            "nothing": "Bought nothing",
        }
    )
    colours = {f"via {ch}": CHANNEL_COLOURS[ch] for ch in CHANNELS}
    colours.update({"fell back": FELL_BACK, "lost": CHANNEL_COLOURS["elsewhere"], "nothing": LIGHT})
    # The harness measures the two market figures with intervals; the rest are plain counts.
    # Bars side by side rather than stacked: a whisker means something only from zero.
    with_ci = {"fell back": "market.fallback_to_store", "lost": "market.lost_sales"}
    present = [o for o in order if any(row.get(o) for row in rows)]
    chart = _chart(pygal.Bar, [colours[o] for o in present], height=440, columns=2)
    chart.x_labels = [label(s) for s in scenarios]
    top = 0.0
    for outcome in present:
        values: list[Any] = []
        for scenario, row in zip(scenarios, rows, strict=True):
            fig = figure(scenario, with_ci[outcome]) if outcome in with_ci else None
            if fig is not None:
                values.append(_value(fig))
                top = max(top, fig.high)
            else:
                values.append(row.get(outcome, 0.0))
                top = max(top, row.get(outcome, 0.0))
        chart.add(names[outcome], values)
    _axis(chart, top, _whole, whole=True)
    return chart


def _outcome(journey: Mapping[str, Any]) -> str:
    if journey.get("lost_sale") or journey.get("bought_via") == "elsewhere":
        return "lost"
    if journey.get("fell_back"):
        return "fell back"
    if not journey.get("bought_via"):
        return "nothing"
    via = str(journey["bought_via"])
    channel = via if via in ("browse", "assistant") else str(journey.get("channel") or "")
    return f"via {channel}" if channel in CHANNELS else "via browse"


def _gate(scenarios: Sequence[Mapping[str, Any]]) -> Any | None:
    rows: list[tuple[str, float, float]] = []
    order: list[str] = []
    for scenario in scenarios:
        totals: dict[str, dict[str, float]] = {}
        for run in scenario.get("runs") or []:
            per_class = (run.get("requests") or {}).get("by_class_decision") or {}
            for cls, actions in per_class.items():
                for action, n in actions.items():
                    kind = "refused" if action in REFUSING else "let in"
                    slot = totals.setdefault(cls, {"let in": 0.0, "refused": 0.0})
                    slot[kind] += n
        for cls in sorted(totals, key=_class_order):
            let_in, refused = totals[cls]["let in"], totals[cls]["refused"]
            total = let_in + refused
            if total:
                name = f"{cls}, {label(scenario)}: {total:,.0f}"
                rows.append((name, 100 * let_in / total, 100 * refused / total))
                order.append(name)
    if not rows:
        return None
    # Each class as 100 %, so a class of nine requests shows as plainly as one of thousands.
    # pygal draws the first label at the bottom: reversed, the list reads from the top.
    rows.sort(key=lambda r: (_class_order(r[0].split(",")[0]), order.index(r[0])), reverse=True)
    chart = _chart(
        pygal.HorizontalStackedBar, [LIGHT, REFUSED], height=130 + 34 * len(rows), columns=2
    )
    chart.x_labels = [r[0] for r in rows]
    chart.add("Let in", [r[1] for r in rows])
    chart.add("Refused", [r[2] for r in rows])
    _axis(chart, 100, _percent)
    return chart


CLASS_ORDER = (
    "human",
    "first-party-agent",
    "verified-agent",
    "declared-agent",
    "suspected-agent",
    "declared-crawler",
    "search-engine",
)


def _class_order(cls: str) -> int:
    return CLASS_ORDER.index(cls) if cls in CLASS_ORDER else len(CLASS_ORDER)


def _data_advantage(block: Mapping[str, Any]) -> Any | None:
    levels = list(block.get("levels") or [])
    ratios = list(block.get("help_me_decide") or [])
    base = block.get("baseline") or {}
    if len(levels) < 2 or len(ratios) != len(levels):
        return None
    lows = list(block.get("low") or ratios)
    highs = list(block.get("high") or ratios)
    chart = _chart(
        pygal.Line,
        [CHANNEL_COLOURS["assistant"], DARK],
        height=420,
        x_title="History events the platform holds for the shopper",
        dots_size=6,
        line=True,
        columns=1,
    )
    chart.x_labels = [str(v) for v in levels]
    chart.add(
        "Help Me Decide (the platform assistant)",
        [
            {"value": r, "ci": {"low": lo, "high": hi}}
            for r, lo, hi in zip(ratios, lows, highs, strict=True)
        ],
    )
    if "ratio" in base:
        name = str(base.get("label") or base.get("name") or "best outside method")
        chart.add(
            f"Best outside method: {name}",
            [float(base["ratio"])] * len(levels),
            stroke_style={"dasharray": "12, 8"},
            show_dots=False,
        )
    _axis(chart, 1.0, _two)
    return chart


def _sweep_chart(
    groups: Mapping[str, Sequence[Mapping[str, Any]]],
    key: str,
    fmt: Callable[[float], str],
    *,
    scale: float = 1.0,
    top: float | None = None,
) -> Any:
    """One line per policy against the delegation share; None when nothing was measured."""
    shares = sorted({share_of(s) for g in groups.values() for s in g})
    policies = sorted(groups, key=lambda p: {"closed": 0, "open": 1}.get(p, 2))
    chart = _chart(
        pygal.Line,
        [POLICY_COLOURS.get(p, DARK) for p in policies],
        height=380,
        x_title="Share of shoppers who send an outside agent",
        dots_size=6,
        line=True,
    )
    chart.x_labels = [f"{100 * s:.0f}%" for s in shares]
    values = []
    for name in policies:
        by_share = {share_of(s): s for s in groups[name]}
        values.append(
            [_value(figure(by_share[x], key), scale) if x in by_share else None for x in shares]
        )
    if all(v is None for vals in values for v in vals):
        return None
    for name, vals in zip(policies, values, strict=True):
        # Dashes as well as shade, so the two lines differ in black and white too.
        dashed = {"dasharray": "12, 8"} if name != "closed" else None
        chart.add(f"{name.capitalize()} policy", vals, stroke_style=dashed)
    _axis(chart, top if top is not None else _top(values), fmt)
    return chart


def charts(
    scenarios: Sequence[Mapping[str, Any]], data_advantage: Mapping[str, Any] | None = None
) -> list[Chart]:
    """Every chart the data allows, in the order of the story."""
    shown = focus(scenarios)
    out: list[Chart] = []

    def add(heading: str, chart: Any | None, caption: str) -> None:
        if chart is not None:
            out.append(Chart(heading, _svg(chart, len(out) + 1), caption))

    ci = "Whiskers: 95% intervals."
    if shown:
        add(
            "Who earns: ad revenue and sales",
            _bars(
                shown,
                [("Sales", "sales", LIGHT), ("Ad revenue", "revenue.ads", DARK)],
                _money,
            ),
            f"Money, in the currency of the store, per scenario. {ci}",
        )
        add(
            "How much of the trade is advertising: ads as a share of sales",
            _bars(shown, [("Ad revenue / sales", "ads.share_of_sales", MID)], _percent,
                  scale=100, height=320),
            f"Ad revenue divided by sales. {ci}",
        )  # fmt: skip
        add(
            "Who holds the customer interface",
            _bars(shown, [("Journeys through the platform", "interface_share", MID)],
                  _percent, scale=100, top=100, height=320),
            "Share of shopping journeys that went through the pages or the assistant of the"
            f" platform, where its ads and its own picks are shown. {ci}",
        )  # fmt: skip
        add(
            "Who gets the data: history events per journey, by channel",
            _by_channel(shown, "data.events_per_journey", "data.events_per_journey", top=None),
            "Searches, views and purchases the platform recorded per shopping journey: the"
            f" history that trains its recommender. {ci}",
        )
        add(
            "How well shoppers did: welfare by channel",
            _by_channel(shown, "welfare.ratio", "welfare.by_channel", top=1.0),
            "How well what shoppers bought fit them: 1 is the best product for that shopper."
            f" The first bar of each group is all journeys. {ci}",
        )
        add(
            "How journeys ended",
            _outcomes(shown),
            "Shopping journeys by how they ended, the mean over runs. Whiskers on the"
            " fall-backs and lost sales: 95% intervals.",
        )
        add(
            "Who got in: gate decisions by visitor class",
            _gate(shown),
            "Each bar is one class of visitor in one scenario, as 100% of its requests (the"
            " number of requests follows the name), so small classes stay visible. Refused:"
            " blocked, challenged, throttled or asked to pay. Exact counts from the decision"
            " log of the gate, so no intervals.",
        )
    if data_advantage:
        add(
            "The data advantage: Help Me Decide against the best outside method",
            _data_advantage(data_advantage),
            "Oracle ratio (1 = the best product for the shopper) as the platform learns more"
            " history (the levels are evenly spaced, not to scale); the dashed line is the best"
            f" method an outside agent can use, which sees no history. {ci}",
        )
    groups = sweeps(scenarios)
    if groups:
        add(
            "Agent adoption: platform revenue",
            _sweep_chart(groups, "revenue.total", _money),
            f"Margin plus ad revenue, one line per policy. {ci}",
        )
        add(
            "Agent adoption: who holds the customer interface",
            _sweep_chart(groups, "interface_share", _percent, scale=100, top=100),
            f"Share of journeys through the pages or the assistant of the platform. {ci}",
        )
        add(
            "Agent adoption: shopper welfare",
            _sweep_chart(groups, "welfare.ratio", _two, top=1.0),
            f"How well purchases fit the shoppers (1 = the best product). {ci}",
        )
    return out
