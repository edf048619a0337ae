"""The headline figures of a run, each a function of its journeys' rows.

Defining every figure over journey rows (see `sandbox.journeys.journey_row`) is what lets one
definition serve the run's value, the bootstrap over journeys and the mean over seeds alike.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from functools import partial

from sandbox.intervals import Figure, Row
from sandbox.journeys import ASSISTANT, BROWSE
from sandbox.scenario import SHOPPING_AGENTS

# Every channel a journey can take or end in, in the order reports show them.
CHANNELS = (BROWSE, ASSISTANT, *SHOPPING_AGENTS)


def _sum(key: str, rows: Sequence[Row]) -> float:
    return float(sum(row[key] for row in rows))


def _mean(values: Iterable[float]) -> float | None:
    found = list(values)
    return statistics.fmean(found) if found else None


def _per_journey(key: str, rows: Sequence[Row]) -> float | None:
    return _mean(float(row[key]) for row in rows)


def _share_of_sales(rows: Sequence[Row]) -> float | None:
    sales = _sum("sales", rows)
    return _sum("ad_revenue", rows) / sales if sales else None


def _welfare(rows: Sequence[Row], via: str | None = None) -> float | None:
    return _mean(
        row["welfare"]
        for row in rows
        if row["welfare"] is not None and (via is None or row["bought_via"] == via)
    )


def _by_channel(key: str, channel: str, rows: Sequence[Row]) -> float | None:
    return _mean(float(row[key]) for row in rows if row["channel"] == channel)


def _count(test: Callable[[Row], bool], rows: Sequence[Row]) -> float:
    return float(sum(1 for row in rows if test(row)))


HEADLINE: dict[str, Figure] = {
    "revenue.ads": partial(_sum, "ad_revenue"),
    "revenue.margin": partial(_sum, "margin"),
    "revenue.total": lambda rows: _sum("margin", rows) + _sum("ad_revenue", rows),
    "sales": partial(_sum, "sales"),
    "ads.share_of_sales": _share_of_sales,
    "orders.total": partial(_sum, "orders"),
    "orders.agent": partial(_count, lambda r: r["bought_via"] in SHOPPING_AGENTS),
    "interface_share": partial(_per_journey, "saw_interface"),
    "welfare.ratio": _welfare,
    "market.delegated_journeys": partial(_count, lambda r: r["agent"] is not None),
    "market.delegation_refused": partial(_count, lambda r: r["refused"]),
    "market.fallback_to_store": partial(_count, lambda r: r["fell_back"]),
    "market.lost_sales": partial(_count, lambda r: r["lost_sale"]),
    "data.events_per_journey": partial(_per_journey, "events"),
    "ads.impressions_per_journey": partial(_per_journey, "impressions_seen"),
    "ads.clicks": partial(_sum, "ad_clicks"),
    "effort.pages_per_journey": partial(_per_journey, "pages_read"),
}


# Set by the scenario (who delegates is drawn up front), not by how the journeys went.
BY_DESIGN = frozenset({"market.delegated_journeys"})


def figures_for(rows: Sequence[Row]) -> dict[str, Figure]:
    """The headline figures, plus the by-channel ones for every channel these journeys used."""
    figures = dict(HEADLINE)
    taken = [c for c in CHANNELS if any(row["channel"] == c for row in rows)]
    bought = [c for c in CHANNELS if any(row["bought_via"] == c for row in rows)]
    for channel in taken:
        figures[f"data.events_per_journey.{channel}"] = partial(_by_channel, "events", channel)
        figures[f"ads.impressions_per_journey.{channel}"] = partial(
            _by_channel, "impressions_seen", channel
        )
    for channel in bought:
        figures[f"welfare.by_channel.{channel}"] = partial(_welfare, via=channel)
    return figures


def run_figures(rows: Sequence[Row]) -> dict[str, float | None]:
    """Every figure's value on one run's journeys (no intervals)."""
    return {name: figure(rows) for name, figure in figures_for(rows).items()}


def welfare_by_channel(rows: Sequence[Row]) -> dict[str, dict[str, float]]:
    """Per channel a purchase was made through: the mean welfare ratio and the purchases."""
    out: dict[str, dict[str, float]] = {}
    for channel in CHANNELS:
        scored = [
            r["welfare"] for r in rows if r["bought_via"] == channel and r["welfare"] is not None
        ]
        if scored:
            out[channel] = {"ratio": round(statistics.fmean(scored), 4), "purchases": len(scored)}
    return out


def by_channel(rows: Sequence[Row], key: str) -> dict[str, float]:
    """The mean of `key` per journey, for each channel journeys took."""
    out = {}
    for channel in CHANNELS:
        value = _by_channel(key, channel, rows)
        if value is not None:
            out[channel] = round(value, 3)
    return out
