"""95 % intervals for a run's figures: a bootstrap over journeys, or Student's t over seeds.

One seed: every figure is a function of the journeys' rows, so the journeys are resampled with
replacement (`BOOTSTRAP_RESAMPLES` times, from a fixed seed) and the figure's 2.5th and 97.5th
percentiles over the resamples are its interval. Several seeds: the figure's mean over the seeds,
with the t interval of that mean (each seed is a whole independent run).
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Mapping, Sequence
from typing import Any

BOOTSTRAP_RESAMPLES = 1000
LEVEL = 0.95
# Two-sided 97.5 % quantiles of Student's t for 1..30 degrees of freedom; 1.96 beyond.
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip

Row = Mapping[str, Any]
Figure = Callable[[Sequence[Row]], float | None]
Interval = dict[str, float]


def _percentile(ordered: Sequence[float], q: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default)."""
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def bootstrap(
    rows: Sequence[Row], figure: Figure, *, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0
) -> Interval | None:
    """The figure on `rows` with its 95 % percentile-bootstrap interval; None if undefined."""
    value = figure(rows)
    if value is None:
        return None
    rng = random.Random(f"bootstrap:{seed}")
    n = len(rows)
    draws = []
    for _ in range(resamples):
        sample = [rows[rng.randrange(n)] for _ in range(n)]
        drawn = figure(sample)
        if drawn is not None:
            draws.append(drawn)
    if not draws:
        return {"mean": value, "low": value, "high": value}
    draws.sort()
    tail = (1.0 - LEVEL) / 2
    return {"mean": value, "low": _percentile(draws, tail), "high": _percentile(draws, 1 - tail)}


def t_interval(values: Sequence[float]) -> Interval:
    """The mean of independent runs' values, with its 95 % Student t interval."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return {"mean": mean, "low": mean, "high": mean}
    df = len(values) - 1
    t = _T975[df - 1] if df <= len(_T975) else 1.96
    half = t * statistics.stdev(values) / math.sqrt(len(values))
    return {"mean": mean, "low": mean - half, "high": mean + half}


def summarise(
    runs_rows: Sequence[Sequence[Row]],
    figures: Mapping[str, Figure],
    *,
    fixed: frozenset[str] = frozenset(),
    seed: int = 0,
) -> dict[str, Interval]:
    """Every defined figure with its interval: bootstrap for one run, t over several.

    Figures named in `fixed` are set by the scenario's design rather than drawn by chance
    (e.g. how many shoppers delegate), so their interval is the value itself.
    """
    summary: dict[str, Interval] = {}
    for name, figure in figures.items():
        if name in fixed:
            values = [v for rows in runs_rows if (v := figure(rows)) is not None]
            if values:
                mean = statistics.fmean(values)
                summary[name] = {"mean": mean, "low": mean, "high": mean}
            continue
        if len(runs_rows) == 1:
            found = bootstrap(runs_rows[0], figure, seed=seed)
            if found is not None:
                summary[name] = found
            continue
        values = [v for rows in runs_rows if (v := figure(rows)) is not None]
        if values:
            summary[name] = t_interval(values)
    return {name: {k: round(v, 4) for k, v in found.items()} for name, found in summary.items()}


def overlap(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    """True when two intervals overlap: their difference is within chance."""
    return a["low"] <= b["high"] and b["low"] <= a["high"]
