"""Explainable scoring: revealed preferences, quality, price, brand, availability; no trained model.

Every factor is a number in [0, 1] that a reason can point at; the total is their weighted sum with
the weights from `DecideConfig`. Nothing here reads the database: the service hands in the
shopper's learned profile, the category's pool and the aggregate co-view similarities.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from marketplace.decide.config import DecideConfig
from marketplace.decide.domain import AttrSpec, ProductFacts
from marketplace.decide.pool import CategoryPool, Floats, Mask, Rows, present
from marketplace.decide.profile import CategoryStats, LearnedProfile, Preference, PriceBand


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


def _stars_column(pool: CategoryPool, prior: float) -> Floats:
    """Each product's Bayesian-average rating with `prior` pseudo-ratings."""
    mean = pool.stats.mean_rating
    return pool.derived(
        ("stars", prior), lambda: [bayes_rating(p, mean, prior) for p in pool.products]
    )


def _quality_column(pool: CategoryPool, prior: float) -> Floats:
    """The `quality` factor of each product."""
    # On a fixed scale (3 stars = 0, 5 stars = 1), so a tenth of a star between two
    # good products stays a small difference however close the candidates are.
    return pool.derived(
        ("quality", prior),
        lambda: [min(1.0, max(0.0, (s - 3.0) / 2.0)) for s in _stars_column(pool, prior).tolist()],
    )


def _availability_column(pool: CategoryPool, low_stock: int) -> Floats:
    """The `availability` factor of each product: enough stock to ship."""
    return pool.derived(
        ("availability", low_stock),
        lambda: np.minimum(
            1.0, np.fromiter((p.stock for p in pool.products), dtype=np.int64) / low_stock
        ),
        reads_stock=True,
    )


def _house_column(pool: CategoryPool) -> Floats:
    return pool.derived(
        ("house_brand",), lambda: [1.0 if p.is_house_brand else 0.0 for p in pool.products]
    )


def prime(pool: CategoryPool, config: DecideConfig) -> None:
    """Work out every per-product column a ranking with `config` reads (the refresher does it
    in the background, so a shopper's first ask after a read does not)."""
    _quality_column(pool, config.rating_prior_count)
    _availability_column(pool, config.low_stock)
    _house_column(pool)


def preference_column(pool: CategoryPool, pref: Preference, rows: Rows) -> Floats:
    """`pref.score_value` of each of `rows`' value, 0 where the product does not say (an unknown
    value earns nothing rather than an average)."""
    stats = pool.stats
    col = pool.column(f"attributes.{pref.spec.key}")
    if pref.kind in ("directed", "target"):
        # A number's score is a function of its percentile, which the pool keeps per value.
        pct = pool.percentiles(pref.spec)
        if pref.kind == "directed":
            table = pct if pref.preferred > 0 else 1.0 - pct
        else:
            target = stats.percentile(pref.spec.key, float(pref.preferred))
            table = 1.0 - np.abs(pct - target)
        table = np.where(np.isnan(table), 0.0, table)
    else:
        table = np.array([pref.score_value(v, stats) or 0.0 for v in col.values], dtype=np.float64)
    result: Floats = table[col.codes[rows]]
    return result


@dataclass(frozen=True)
class Scored:
    product: ProductFacts
    total: float
    factors: Mapping[str, float]
    quality_stars: float  # the Bayesian-average rating
    attribute_scores: Mapping[str, float]
    matched_terms: tuple[str, ...]


@dataclass(frozen=True)
class Ranking:
    """Every factor and the total of some rows of a pool, by position, as numpy columns."""

    pool: CategoryPool
    profile: LearnedProfile
    rows: Rows
    factors: dict[str, Floats]  # every factor, attribute_fit first
    totals: Floats
    preference_scores: tuple[tuple[str, Floats], ...]  # each preference's score, in order
    terms: tuple[str, ...]
    stars: Floats
    prices: Floats
    ids: Rows

    def __len__(self) -> int:
        return len(self.rows)

    def product(self, pos: int) -> ProductFacts:
        return self.pool.products[int(self.rows[pos])]

    def key(self, pos: int) -> tuple[float, float, int]:
        """Sort key of a position: best total first, then lower price, lower id."""
        return (-float(self.totals[pos]), float(self.prices[pos]), int(self.ids[pos]))

    def best(self, among: Mask | None = None) -> int | None:
        """The position with the smallest `key` (of those `among` allows), or None."""
        positions = np.arange(len(self.rows)) if among is None else np.flatnonzero(among)
        if not len(positions):
            return None
        totals = self.totals[positions]
        positions = positions[totals == totals.max()]
        if len(positions) > 1:
            prices = self.prices[positions]
            positions = positions[prices == prices.min()]
        return int(positions[np.argmin(self.ids[positions])])

    def scored(self, pos: int) -> Scored:
        row = int(self.rows[pos])
        tokens = self.pool.tokens([row])[0] if self.terms else ()
        factors = {k: float(v[pos]) for k, v in self.factors.items()}
        return Scored(
            product=self.pool.products[row],
            total=float(self.totals[pos]),
            factors={k: round(factors[k], 4) for k in _FACTOR_ORDER if k in factors},
            quality_stars=float(self.stars[pos]),
            attribute_scores={key: float(col[pos]) for key, col in self.preference_scores},
            matched_terms=tuple(t for t in self.terms if t in tokens),
        )

    def order(self) -> list[int]:
        """Every position, best first (by `key`)."""
        return [int(p) for p in np.lexsort((self.ids, self.prices, -self.totals))]

    def ranked(self) -> list[Scored]:
        """Every row as `Scored`, best first."""
        return [self.scored(pos) for pos in self.order()]


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


def _by_position(
    pool: CategoryPool, rows: Rows, values: Mapping[int, float], most: float
) -> Floats:
    """`values.get(id, 0) / most` for each of `rows`' products."""
    out = np.zeros(len(rows), dtype=np.float64)
    if not most:
        return out
    position = np.full(len(pool), -1, dtype=np.intp)
    position[rows] = np.arange(len(rows), dtype=np.intp)
    for pid, value in values.items():
        row = pool.row_of.get(pid)
        if row is not None and position[row] >= 0:
            out[position[row]] = value / most
    return out


def score_rows(
    pool: CategoryPool,
    rows: Sequence[int] | Rows,
    profile: LearnedProfile,
    config: DecideConfig,
    *,
    co_view: Mapping[int, float] | None = None,
) -> Ranking:
    """Score the pool's `rows`: every factor and the total, as whole columns."""
    w = config.weights
    rows = np.asarray(rows, dtype=np.intp)
    n = len(rows)

    terms = profile.terms
    if terms:
        matched = np.zeros(n, dtype=np.int64)
        having = np.zeros(len(pool), dtype=np.bool_)
        for term in terms:
            having[:] = False
            having[pool.rows_matching(term)] = True
            matched += having[rows]
        search_match = matched / len(terms)
    else:
        search_match = np.full(n, 0.5)

    band = profile.band
    if band is None:
        price_col = np.full(n, price_fit(0.0, None))
    else:
        prices = pool.column("price")
        codes = prices.codes[rows]
        wanted = present(codes, len(prices.values))
        table = np.zeros(len(prices.values))
        table[wanted] = _price_fit_table(
            np.array(prices.values)[wanted], pool.price_percentiles()[wanted], band
        )
        price_col = table[codes]
    brand_weight = profile.brand_weight
    brand_max = max(brand_weight.values(), default=0.0)
    brand_col = (
        pool.judged("brand", lambda b, _row: brand_weight.get(b, 0.0) / brand_max, rows)
        if brand_max
        else np.zeros(n)
    )
    interest = profile.interest
    co_view = co_view or {}
    factors = {
        "search_match": search_match,
        "quality": _quality_column(pool, config.rating_prior_count)[rows],
        "price_fit": price_col,
        "interest": _by_position(pool, rows, interest, max(interest.values(), default=0.0)),
        "brand_affinity": brand_col,
        "co_view": _by_position(pool, rows, co_view, max(co_view.values(), default=0.0)),
        "availability": _availability_column(pool, config.low_stock)[rows],
    }
    if w.house_brand_boost:
        factors["house_brand"] = _house_column(pool)[rows]

    num = np.zeros(n)
    den = 0.0
    preference_scores = []
    for pref in profile.preferences:
        col = preference_column(pool, pref, rows)
        preference_scores.append((pref.spec.key, col))
        num = num + pref.importance * col
        den += pref.importance
    fit = num / den if den else np.full(n, 0.5)
    f = factors
    # The same sum in the same order as ever (elementwise, no fused operations), so totals
    # match a product-by-product sum to the last bit.
    totals = (
        w.attribute_fit * fit
        + w.search_match * f["search_match"]
        + w.quality * f["quality"]
        + w.price_fit * f["price_fit"]
        + w.brand_affinity * f["brand_affinity"]
        + w.co_view * f["co_view"]
        + w.availability * f["availability"]
        + w.interest * f["interest"]
    )
    if "house_brand" in f:
        totals = totals + w.house_brand_boost * f["house_brand"]
    return Ranking(
        pool=pool,
        profile=profile,
        rows=rows,
        factors={"attribute_fit": fit, **factors},
        totals=totals,
        preference_scores=tuple(preference_scores),
        terms=terms,
        stars=_stars_column(pool, config.rating_prior_count)[rows],
        prices=pool.price_array[rows],
        ids=pool.id_array[rows],
    )


def _price_fit_table(prices: Floats, percentiles: Floats, band: PriceBand) -> Floats:
    """`price_fit` of each of `prices` (with its percentile), in the same operations."""
    fit = np.empty(len(prices))
    low, high = band.low, band.high
    inside = (low <= prices) & (prices <= high)
    span = max(high - low, 1e-9)
    fit[inside] = 1.0 - 0.15 * (prices[inside] - low) / span
    # Outside the band it takes `math.exp` and `math.log` (numpy's may differ in the last bit).
    above = prices > high
    fit[above] = [
        0.85 * math.exp(-0.5 * (math.log(p / high) / 0.2) ** 2) for p in prices[above].tolist()
    ]
    below = ~(inside | above)
    fit[below] = [
        math.exp(-0.5 * (math.log(low / max(p, 0.01)) / 0.5) ** 2) for p in prices[below].tolist()
    ]
    s = band.sensitivity
    table: Floats = (1 - s) * fit + s * (1 - percentiles)
    return table


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
