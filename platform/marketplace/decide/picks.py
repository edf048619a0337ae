"""The three picks: the top pick, a clearly cheaper budget pick and an upgrade worth paying for."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from marketplace.decide.config import DecideConfig
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


def upgrades_on_features(ranking: Ranking, top: int) -> Callable[[int], bool]:
    """A test of whether a position is no worse than `top` on any preference with a direction
    and better on at least one; each preference is compared once per distinct value."""
    pool = ranking.pool
    top_attributes = ranking.product(top).attributes
    tables: list[tuple[list[int], list[int]]] = []
    for pref in ranking.profile.preferences:
        if pref.kind not in ("bool", "directed"):
            continue
        col = pool.column(f"attributes.{pref.spec.key}")
        mine = top_attributes.get(pref.spec.key)
        tables.append((col.codes, [_value_better(v, mine, pref) for v in col.values]))
    rows = ranking.rows

    def upgrades(pos: int) -> bool:
        row = rows[pos]
        comparisons = [table[codes[row]] for codes, table in tables]
        return bool(comparisons) and min(comparisons) >= 0 and max(comparisons) > 0

    return upgrades


@dataclass(frozen=True)
class PickSet:
    top: Scored
    budget: Scored | None
    premium: Scored | None
    budget_note: str | None
    premium_note: str | None


# Bounds and totals are sums of the same terms in a different order; this covers the rounding.
_SLACK = 1e-9


def _best_by_bound(
    ranking: Ranking, candidates: Iterable[int], admits: Callable[[int], bool] | None = None
) -> int | None:
    """The best-ranked of `candidates` (highest bound first) that `admits`, evaluating few.

    Candidates are evaluated in batches; once one's bound is below the best total found, no
    later one can beat it (so `admits`, which may be costly, is not even asked).
    """
    best: int | None = None
    batch: list[int] = []
    size = 1  # a first total to compare with as soon as possible, then growing batches
    for j in candidates:
        if best is not None and ranking.bound[j] < ranking.totals[best] - _SLACK:
            break
        if admits is not None and not admits(j):
            continue
        batch.append(j)
        if len(batch) == size:
            ranking.evaluate(batch)
            best = ranking.best([*batch, *([] if best is None else [best])])
            batch, size = [], min(2 * size, 256)
    if batch:
        ranking.evaluate(batch)
        best = ranking.best([*batch, *([] if best is None else [best])])
    return best


def choose_picks(
    ranking: Ranking, profile: LearnedProfile, config: DecideConfig, noun: str
) -> PickSet:
    """Top = best score; budget = clearly cheaper, above a quality floor; premium = an upgrade.

    Each pick is the best-ranked product its rule admits. Only `attribute_fit` is left to work
    out, and a row whose bound is below the best total found so far cannot win, so rows are
    evaluated highest bound first and only until then: the picks are the same as if every row
    had been evaluated.
    """
    n = len(ranking)
    if not n:
        raise ValueError("no candidates to pick from")
    prices, stars, bound = ranking.prices, ranking.stars, ranking.bound
    floor = config.budget_min_quality
    by_bound = sorted(range(n), key=bound.__getitem__, reverse=True)
    top = _best_by_bound(ranking, by_bound)
    assert top is not None
    top_price, top_stars = prices[top], stars[top]
    upgrades = upgrades_on_features(ranking, top)
    price_cap = top_price * config.budget_max_price_ratio
    ceiling = top_price * config.premium_max_price_ratio

    def dearer(j: int) -> bool:
        return top_price + 1e-9 < prices[j] <= ceiling + 1e-9

    budget = _best_by_bound(
        ranking,
        (j for j in by_bound if j != top and prices[j] <= price_cap + 1e-9 and stars[j] >= floor),
    )
    premium = _best_by_bound(
        ranking,
        (j for j in by_bound if dearer(j) and stars[j] >= floor),
        lambda j: stars[j] >= top_stars or upgrades(j),
    )
    others = [j for j in range(n) if j != top]
    budget_note = None
    if budget is None:
        cheaper = sum(1 for j in others if prices[j] <= price_cap + 1e-9)
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
        pricier = sum(1 for j in others if dearer(j))
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
