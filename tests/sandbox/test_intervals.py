"""The 95 % intervals of the report: a bootstrap over journeys and Student's t over seeds."""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence

from sandbox.intervals import Row, bootstrap, overlap, summarise, t_interval


def mean_of(rows: Sequence[Row]) -> float:
    return statistics.fmean(row["x"] for row in rows)


def test_the_bootstrap_of_a_known_mean_covers_it_about_95_times_in_100() -> None:
    # Normal(10, 2), 50 draws: the interval of the mean should hold 10 about 95 % of the time.
    covered = 0
    for trial in range(200):
        rng = random.Random(trial)
        rows = [{"x": rng.gauss(10.0, 2.0)} for _ in range(50)]
        found = bootstrap(rows, mean_of, resamples=400, seed=trial)
        assert found is not None
        covered += found["low"] <= 10.0 <= found["high"]
        # Its width is close to the textbook 2 x 1.96 x sigma / sqrt(n) = 1.11.
        assert 0.7 < found["high"] - found["low"] < 1.6
    assert 180 <= covered <= 198


def test_the_bootstrap_is_deterministic_and_centred_on_the_figure() -> None:
    rows = [{"x": float(v)} for v in range(1, 41)]
    first = bootstrap(rows, mean_of, seed=3)
    assert first == bootstrap(rows, mean_of, seed=3)
    assert first is not None
    assert first["mean"] == 20.5
    assert first["low"] < 20.5 < first["high"]


def test_an_undefined_figure_has_no_interval() -> None:
    assert bootstrap([{"x": 1.0}], lambda rows: None) is None


def test_the_t_interval_of_known_values() -> None:
    found = t_interval([1.0, 2.0, 3.0])
    # mean 2, sd 1, t(2 df) = 4.303: 2 -+ 4.303 / sqrt(3)
    assert found["mean"] == 2.0
    assert round(found["low"], 3) == round(2 - 4.303 / 3**0.5, 3)
    assert round(found["high"], 3) == round(2 + 4.303 / 3**0.5, 3)
    assert t_interval([5.0]) == {"mean": 5.0, "low": 5.0, "high": 5.0}


def test_summarise_uses_the_bootstrap_for_one_run_and_t_for_several() -> None:
    rows = [{"x": float(v)} for v in range(10)]
    figures = {"x": mean_of, "fixed": lambda rs: float(len(rs))}
    one = summarise([rows], figures, fixed=frozenset({"fixed"}))
    assert one["fixed"] == {"mean": 10.0, "low": 10.0, "high": 10.0}
    assert one["x"]["low"] < one["x"]["mean"] < one["x"]["high"]
    several = summarise([rows, [{"x": v + 1} for v in range(10)]], figures)
    assert several["x"]["mean"] == 5.0
    assert several["x"] == {k: round(v, 4) for k, v in t_interval([4.5, 5.5]).items()}


def test_overlapping_intervals_are_within_chance() -> None:
    assert overlap({"low": 1, "high": 3}, {"low": 2.5, "high": 4})
    assert not overlap({"low": 1, "high": 2}, {"low": 2.5, "high": 4})
