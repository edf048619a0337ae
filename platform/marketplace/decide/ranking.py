"""Explainable scoring: revealed preferences, quality, price, brand, availability; no trained model.

Every factor is a number in [0, 1] that a reason can point at; the total is their weighted sum with
the weights from `DecideConfig`. Nothing here reads the database: the service hands in the
shopper's learned profile, the category's pool and the aggregate co-view similarities.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from operator import add, contains, mul, truediv

from marketplace.decide.config import DecideConfig
from marketplace.decide.domain import AttrSpec, ProductFacts
from marketplace.decide.pool import CategoryPool, gather
from marketplace.decide.profile import CategoryStats, LearnedProfile, PriceBand


def price_fit(price: float, band: PriceBand | None, percentile: float = 0.5) -> float:
    """Fit to the shopper's band, leaning to cheaper as far as they revealed price sensitivity.

    `percentile` is the price's place in the category (0 = cheapest).
    """
    if band is None:
        return 0.5
    return (1 - band.sensitivity) * _band_fit(price, band) + band.sensitivity * (1 - percentile)


def _band_fit(price: float, band: PriceBand) -> float:
    """1 inside the shopper's band (slightly more for cheaper), falling off outside it."""
    if band.low <= price <= band.high:
        span = max(band.high - band.low, 1e-9)
        return 1.0 - 0.15 * (price - band.low) / span
    if price > band.high:
        # Over budget hurts more than under: sigma 0.2 on the log-price scale.
        return 0.85 * math.exp(-0.5 * (math.log(price / band.high) / 0.2) ** 2)
    return math.exp(-0.5 * (math.log(band.low / max(price, 0.01)) / 0.5) ** 2)


def bayes_rating(product: ProductFacts, mean: float, prior: float) -> float:
    """Bayesian average: the rating pulled toward the category mean by `prior` pseudo-ratings."""
    n = max(product.review_count, 0)
    return (prior * mean + n * product.rating) / (prior + n) if prior + n > 0 else mean


def _stars_column(pool: CategoryPool, prior: float) -> list[float]:
    """Each product's Bayesian-average rating with `prior` pseudo-ratings."""
    mean = pool.stats.mean_rating
    return pool.derived(
        ("stars", prior), lambda: [bayes_rating(p, mean, prior) for p in pool.products]
    )


def _quality_column(pool: CategoryPool, prior: float) -> list[float]:
    """The `quality` factor of each product."""
    # On a fixed scale (3 stars = 0, 5 stars = 1), so a tenth of a star between two
    # good products stays a small difference however close the candidates are.
    return pool.derived(
        ("quality", prior),
        lambda: [min(1.0, max(0.0, (s - 3.0) / 2.0)) for s in _stars_column(pool, prior)],
    )


def _availability_column(pool: CategoryPool, low_stock: int) -> list[float]:
    """The `availability` factor of each product: enough stock to ship."""
    return pool.derived(
        ("availability", low_stock),
        lambda: [min(1.0, p.stock / low_stock) for p in pool.products],
        reads_stock=True,
    )


@dataclass(frozen=True)
class Scored:
    product: ProductFacts
    total: float
    factors: Mapping[str, float]
    quality_stars: float  # the Bayesian-average rating
    attribute_scores: Mapping[str, float]
    matched_terms: tuple[str, ...]


def _weighted(weight: float, column: Sequence[float]) -> Iterator[float]:
    return map(mul, repeat(weight), column)


@dataclass
class Ranking:
    """Scores of some rows of a pool, by position, with `attribute_fit` worked out on demand.

    Every factor but `attribute_fit` is cheap, column-wise, and computed for every row up front;
    `attribute_fit` (a pass per preference) is at most 1, so `bound` (the other factors plus
    the whole `attribute_fit` weight) caps what a row can score, and `choose_picks` evaluates
    rows best bound first until no unevaluated row could still change a pick.
    """

    pool: CategoryPool
    profile: LearnedProfile
    config: DecideConfig
    rows: list[int]
    factors: dict[str, list[float]]  # every factor but attribute_fit, for every row
    bound: list[float]
    terms: tuple[str, ...]
    stars: list[float]
    prices: list[float]
    ids: list[int]
    totals: dict[int, float] = field(default_factory=dict)  # evaluated positions only
    fits: dict[int, float] = field(default_factory=dict)
    preference_scores: dict[int, dict[str, float]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)

    def product(self, pos: int) -> ProductFacts:
        return self.pool.products[self.rows[pos]]

    def evaluate(self, positions: Sequence[int]) -> None:
        """Work out `attribute_fit` and the total of these positions."""
        positions = [j for j in positions if j not in self.totals]
        if not positions:
            return
        stats = self.pool.stats
        rows = gather(self.rows, positions)
        num = [0.0] * len(positions)
        den = 0.0
        columns: list[tuple[str, list[float]]] = []
        for pref in self.profile.preferences:
            col: list[float] = self.pool.judged(
                f"attributes.{pref.spec.key}",
                # An unknown value earns nothing rather than an average.
                lambda raw, _row, pref=pref: pref.score_value(raw, stats) or 0.0,  # type: ignore[misc]
                rows,
            )
            columns.append((pref.spec.key, col))
            num = list(map(add, num, _weighted(pref.importance, col)))
            den += pref.importance
        w = self.config.weights
        f = self.factors
        for i, pos in enumerate(positions):
            fit = num[i] / den if den else 0.5
            # The same sum in the same order as ever, so totals match to the last bit.
            total = (
                w.attribute_fit * fit
                + w.search_match * f["search_match"][pos]
                + w.quality * f["quality"][pos]
                + w.price_fit * f["price_fit"][pos]
                + w.brand_affinity * f["brand_affinity"][pos]
                + w.co_view * f["co_view"][pos]
                + w.availability * f["availability"][pos]
                + w.interest * f["interest"][pos]
            )
            if "house_brand" in f:
                total += w.house_brand_boost * f["house_brand"][pos]
            self.fits[pos] = fit
            self.totals[pos] = total
            self.preference_scores[pos] = {key: col[i] for key, col in columns}

    def key(self, pos: int) -> tuple[float, float, int]:
        """Sort key of an evaluated position: best total first, then lower price, lower id."""
        return (-self.totals[pos], self.prices[pos], self.ids[pos])

    def best(self, positions: Iterable[int]) -> int | None:
        return min(positions, key=self.key, default=None)

    def scored(self, pos: int) -> Scored:
        self.evaluate([pos])
        row = self.rows[pos]
        tokens = self.pool.tokens([row])[0] if self.terms else ()
        factors = {"attribute_fit": self.fits[pos]}
        factors.update((k, v[pos]) for k, v in self.factors.items())
        return Scored(
            product=self.pool.products[row],
            total=self.totals[pos],
            factors={k: round(factors[k], 4) for k in _FACTOR_ORDER if k in factors},
            quality_stars=self.stars[pos],
            attribute_scores=self.preference_scores[pos],
            matched_terms=tuple(t for t in self.terms if t in tokens),
        )

    def ranked(self) -> list[Scored]:
        """Every row as `Scored`, best first."""
        self.evaluate(range(len(self.rows)))
        return [self.scored(pos) for pos in sorted(range(len(self.rows)), key=self.key)]


_FACTOR_ORDER = (
    "attribute_fit",
    "search_match",
    "quality",
    "price_fit",
    "interest",
    "brand_affinity",
    "co_view",
    "availability",
    "house_brand",
)


def score_rows(
    pool: CategoryPool,
    rows: Sequence[int],
    profile: LearnedProfile,
    config: DecideConfig,
    *,
    co_view: Mapping[int, float] | None = None,
) -> Ranking:
    """Score the pool's `rows`: every factor but `attribute_fit` now, as whole columns."""
    w = config.weights
    stats = pool.stats
    rows = list(rows)
    n = len(rows)
    ids = gather(pool.ids, rows)

    terms = profile.terms
    if terms:
        matched = [0] * n
        for term in terms:
            having = pool.rows_matching(term)
            matched = list(map(add, matched, map(contains, repeat(having), rows)))
        search_match = list(map(truediv, matched, repeat(len(terms))))
    else:
        search_match = [0.5] * n

    quality = gather(_quality_column(pool, config.rating_prior_count), rows)
    band = profile.band
    price_col: list[float] = pool.judged(
        "price", lambda price, _row: price_fit(price, band, stats.price_percentile(price)), rows
    )
    interest = profile.interest
    interest_max = max(interest.values(), default=0.0)
    interest_col = (
        list(map(truediv, map(interest.get, ids, repeat(0.0)), repeat(interest_max)))
        if interest_max
        else [0.0] * n
    )
    brand_weight = profile.brand_weight
    brand_max = max(brand_weight.values(), default=0.0)
    brand_col: list[float] = (
        pool.judged("brand", lambda b, _row: brand_weight.get(b, 0.0) / brand_max, rows)
        if brand_max
        else [0.0] * n
    )
    co_view = co_view or {}
    co_max = max(co_view.values(), default=0.0)
    co_col = (
        list(map(truediv, map(co_view.get, ids, repeat(0.0)), repeat(co_max)))
        if co_max
        else [0.0] * n
    )
    availability = gather(_availability_column(pool, config.low_stock), rows)

    factors = {
        "search_match": search_match,
        "quality": quality,
        "price_fit": price_col,
        "interest": interest_col,
        "brand_affinity": brand_col,
        "co_view": co_col,
        "availability": availability,
    }
    # attribute_fit is at most 1: the bound gives it all of its weight.
    bound = [w.attribute_fit] * n
    for weight, column in (
        (w.search_match, search_match),
        (w.quality, quality),
        (w.price_fit, price_col),
        (w.brand_affinity, brand_col),
        (w.co_view, co_col),
        (w.availability, availability),
        (w.interest, interest_col),
    ):
        bound = list(map(add, bound, _weighted(weight, column)))
    if w.house_brand_boost:
        house = [1.0 if pool.products[r].is_house_brand else 0.0 for r in rows]
        factors["house_brand"] = house
        bound = list(map(add, bound, _weighted(w.house_brand_boost, house)))
    return Ranking(
        pool=pool,
        profile=profile,
        config=config,
        rows=rows,
        factors=factors,
        bound=bound,
        terms=terms,
        stars=gather(_stars_column(pool, config.rating_prior_count), rows),
        prices=gather(pool.prices, rows),
        ids=ids,
    )


def score_products(
    products: Sequence[ProductFacts],
    profile: LearnedProfile,
    specs: Sequence[AttrSpec],
    stats: CategoryStats,
    config: DecideConfig,
    *,
    co_view: Mapping[int, float] | None = None,
) -> list[Scored]:
    """Score every product against the category `stats`; best first."""
    pool = CategoryPool(products, specs, stats=stats)
    return score_rows(pool, range(len(pool)), profile, config, co_view=co_view).ranked()
