"""The three picks: the top pick, a clearly cheaper budget pick and an upgrade worth paying for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from marketplace.decide.config import DecideConfig
from marketplace.decide.pool import Mask
from marketplace.decide.profile import LearnedProfile, Preference, number_of
from marketplace.decide.ranking import Ranking, Scored


def _value_better(a: Any, b: Any, pref: Preference) -> int:
    """+1 when value `a` is better than `b` on this preference, -1 when worse, 0 when equal."""
    if pref.kind == "bool":
        return int(a is pref.preferred) - int(b is pref.preferred)
    if pref.kind == "directed":
        na, nb = number_of(a, pref.spec), number_of(b, pref.spec)
        if na is None or nb is None or na == nb:
            return 0
        return 1 if (na - nb) * pref.preferred > 0 else -1
    return 0


def upgrades_on_features(ranking: Ranking, top: int) -> Mask:
    """Whether each position is no worse than `top` on any preference with a direction and
    better on at least one; each preference is compared once per distinct value."""
    pool = ranking.pool
    top_attributes = ranking.product(top).attributes
    comparisons = []
    for pref in ranking.profile.preferences:
        if pref.kind not in ("bool", "directed"):
            continue
        col = pool.column(f"attributes.{pref.spec.key}")
        mine = top_attributes.get(pref.spec.key)
        if pref.kind == "directed":
            # `_value_better` of every value at once: the sign of the difference, 0 when
            # either is no number.
            theirs = number_of(mine, pref.spec)
            if theirs is None:
                table = np.zeros(len(col.values), dtype=np.int8)
            else:
                difference = (pool.numbers(pref.spec) - theirs) * pref.preferred
                table = np.nan_to_num(np.sign(difference)).astype(np.int8)
        else:
            table = np.array([_value_better(v, mine, pref) for v in col.values], dtype=np.int8)
        comparisons.append(table[col.codes[ranking.rows]])
    if not comparisons:
        return np.zeros(len(ranking), dtype=np.bool_)
    stacked = np.vstack(comparisons)
    upgrades: Mask = (stacked.min(axis=0) >= 0) & (stacked.max(axis=0) > 0)
    return upgrades


@dataclass(frozen=True)
class PickSet:
    top: Scored
    budget: Scored | None
    premium: Scored | None
    budget_note: str | None
    premium_note: str | None


def choose_picks(
    ranking: Ranking, profile: LearnedProfile, config: DecideConfig, noun: str
) -> PickSet:
    """Top = best score; budget = clearly cheaper, above a quality floor; premium = an upgrade.

    Each pick is the best-ranked product its rule admits (`Ranking.best`: highest total, then
    lower price, then lower id), over every candidate at once.
    """
    n = len(ranking)
    if not n:
        raise ValueError("no candidates to pick from")
    prices, stars = ranking.prices, ranking.stars
    floor = config.budget_min_quality
    top = ranking.best()
    assert top is not None
    top_price, top_stars = float(prices[top]), float(stars[top])
    price_cap = top_price * config.budget_max_price_ratio
    ceiling = top_price * config.premium_max_price_ratio
    others = np.ones(n, dtype=np.bool_)
    others[top] = False
    cheap = others & (prices <= price_cap + 1e-9)
    dearer = (top_price + 1e-9 < prices) & (prices <= ceiling + 1e-9)
    good = stars >= floor
    budget = ranking.best(cheap & good)
    premium = ranking.best(
        dearer & good & ((stars >= top_stars) | upgrades_on_features(ranking, top))
    )
    budget_note = None
    if budget is None:
        cheaper = int(cheap.sum())
        if not cheaper:
            budget_note = (
                f"No budget pick: no other in-stock {noun} cost at most ${price_cap:,.2f} "
                f"({config.budget_max_price_ratio:.0%} of the top pick's price)."
            )
        else:
            budget_note = (
                f"No budget pick: the {cheaper} {noun} at or below ${price_cap:,.2f} "
                f"({config.budget_max_price_ratio:.0%} of the top pick's price) all rate under "
                f"{floor:g} stars once few reviews are accounted for."
            )
    premium_note = None
    if premium is None:
        pricier = int((others & dearer).sum())
        if not pricier:
            premium_note = (
                f"No premium pick: no in-stock {noun} cost more than the top pick "
                f"(${top_price:,.2f}) and at most "
                f"{config.premium_max_price_ratio:g} times as much."
            )
        else:
            premium_note = (
                f"No premium pick: none of the {pricier} pricier {noun} match the top "
                "pick's rating or beat it on the features you care about, with at least "
                f"{floor:g} stars."
            )
    return PickSet(
        ranking.scored(top),
        None if budget is None else ranking.scored(budget),
        None if premium is None else ranking.scored(premium),
        budget_note,
        premium_note,
    )
