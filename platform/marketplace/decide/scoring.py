"""Explainable scoring: revealed preferences, quality, price, brand, availability; no trained model.

Every factor is a number in [0, 1] that a reason can point at; the total is their weighted sum with
the weights from `DecideConfig`. Nothing here reads the database: the service hands in the
shopper's own signal, the category's products and the aggregate co-view similarities.
"""

from __future__ import annotations

import bisect
import copy
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import add, contains, itemgetter, mul, truediv
from typing import Any, Literal, TypeVar

from marketplace.decide.config import DecideConfig
from marketplace.decide.domain import (
    AttrSpec,
    Interaction,
    ProductFacts,
    ShopperSignal,
    as_number,
)
from marketplace.decide.words import STOPWORDS

PrefKind = Literal["bool", "choice", "directed", "target"]
T = TypeVar("T")

_TOKEN = re.compile(r"[a-z0-9]+")


def tokens(text: str) -> list[str]:
    """Lower-case word tokens with a trailing plural `s` removed (`tents` matches `tent`)."""
    out = []
    for tok in _TOKEN.findall(text.lower()):
        if len(tok) > 3 and tok.endswith("s") and not tok.endswith("ss"):
            tok = tok[:-1]
        out.append(tok)
    return out


def value_number(product: ProductFacts, spec: AttrSpec) -> float | None:
    """A number to compare on: the value itself, or an ordered choice's rank (cheapest = 0)."""
    return number_of(product.attributes.get(spec.key), spec)


def number_of(raw: Any, spec: AttrSpec) -> float | None:
    """`value_number` of one raw attribute value."""
    if spec.numeric:
        return as_number(raw)
    if spec.kind == "choice" and spec.better and spec.choices:
        return float(spec.choices.index(raw)) if raw in spec.choices else None
    return None


def is_ordered(spec: AttrSpec) -> bool:
    """Numbers and choices that run from worse to better can be compared with `value_number`."""
    return spec.numeric or (spec.kind == "choice" and bool(spec.better) and bool(spec.choices))


@dataclass(frozen=True)
class CategoryStats:
    """The in-stock category as a whole: what percentiles and base rates are measured against."""

    size: int
    numbers: Mapping[str, tuple[float, ...]]  # sorted values per numeric attribute
    true_rate: Mapping[str, float]
    choice_rate: Mapping[str, Mapping[str, float]]
    mean_rating: float
    prices: tuple[float, ...] = ()

    def price_percentile(self, price: float) -> float:
        if not self.prices:
            return 0.5
        lo = bisect.bisect_left(self.prices, price)
        hi = bisect.bisect_right(self.prices, price)
        return (lo + 0.5 * (hi - lo)) / len(self.prices)

    def below(self, key: str, value: float) -> int:
        """How many products of the category have a strictly lower value."""
        return bisect.bisect_left(self.numbers.get(key, ()), value)

    def above(self, key: str, value: float) -> int:
        values = self.numbers.get(key, ())
        return len(values) - bisect.bisect_right(values, value)

    def percentile(self, key: str, value: float) -> float:
        """Mid-rank percentile in [0, 1] (ties count half)."""
        values = self.numbers.get(key, ())
        if not values:
            return 0.5
        lo = bisect.bisect_left(values, value)
        hi = bisect.bisect_right(values, value)
        return (lo + 0.5 * (hi - lo)) / len(values)


def category_stats(products: Sequence[ProductFacts], specs: Sequence[AttrSpec]) -> CategoryStats:
    numbers: dict[str, tuple[float, ...]] = {}
    true_rate: dict[str, float] = {}
    choice_rate: dict[str, dict[str, float]] = {}
    for spec in specs:
        if is_ordered(spec):
            values = [v for p in products if (v := value_number(p, spec)) is not None]
            numbers[spec.key] = tuple(sorted(values))
        if spec.kind == "bool":
            flags = [p.attributes.get(spec.key) for p in products]
            known = [f for f in flags if isinstance(f, bool)]
            true_rate[spec.key] = sum(known) / len(known) if known else 0.0
        elif spec.kind == "choice":
            values_c = [str(v) for p in products if (v := p.attributes.get(spec.key)) is not None]
            counts = Counter(values_c)
            choice_rate[spec.key] = {k: c / len(values_c) for k, c in counts.items()}
    ratings = [p.rating for p in products]
    return CategoryStats(
        size=len(products),
        numbers=numbers,
        true_rate=true_rate,
        choice_rate=choice_rate,
        mean_rating=sum(ratings) / len(ratings) if ratings else 4.0,
        prices=tuple(sorted(p.price for p in products)),
    )


@dataclass(frozen=True)
class Preference:
    """One attribute preference revealed by the products the shopper dealt with."""

    spec: AttrSpec
    kind: PrefKind
    importance: float
    preferred: Any  # bool, a choice value, +1/-1 for directed numbers, or a target number
    matching: int = 0  # distinct products the shopper dealt with that have the preferred value
    seen: int = 0  # distinct products the shopper dealt with that have this attribute
    shares: Mapping[str, float] = field(default_factory=dict)
    personal: bool = True  # False when it is only the taxonomy's "more is better"

    def score(self, product: ProductFacts, stats: CategoryStats) -> float | None:
        return self.score_value(product.attributes.get(self.spec.key), stats)

    def score_value(self, raw: Any, stats: CategoryStats) -> float | None:
        """The score of one raw attribute value (None when the product does not say)."""
        if raw is None:
            return None
        if self.kind == "bool":
            return 1.0 if raw is self.preferred else 0.0
        if self.kind == "choice":
            top = max(self.shares.values()) if self.shares else 1.0
            return min(1.0, self.shares.get(str(raw), 0.0) / top) if top else 0.0
        number = number_of(raw, self.spec)
        if number is None:
            return None
        pct = stats.percentile(self.spec.key, number)
        if self.kind == "directed":
            return pct if self.preferred > 0 else 1.0 - pct
        target = stats.percentile(self.spec.key, float(self.preferred))
        return 1.0 - abs(pct - target)


@dataclass(frozen=True)
class PriceBand:
    low: float
    high: float
    cheapest_seen: float
    dearest_seen: float
    seen: int
    # 0..1: how strongly the shopper keeps to the cheap end of the category (revealed by the
    # price percentiles of what they looked at).
    sensitivity: float = 0.0


@dataclass(frozen=True)
class LearnedProfile:
    """What the shopper's own history says about this category."""

    preferences: tuple[Preference, ...]
    band: PriceBand | None
    brand_weight: Mapping[str, float]
    brand_views: Mapping[str, int]
    brands_bought: Mapping[str, int]
    terms: tuple[str, ...]
    queries: tuple[str, ...]
    # The shopper's own attention per product (views, a kept cart line, purchases).
    interest: Mapping[int, float] = field(default_factory=dict)


def _weighted_quantile(pairs: Sequence[tuple[float, float]], q: float) -> float:
    ordered = sorted(pairs)
    total = sum(w for _, w in ordered)
    acc = 0.0
    for value, weight in ordered:
        acc += weight
        if acc >= q * total - 1e-12:
            return value
    return ordered[-1][0]


def _choice_taste(
    spec: AttrSpec,
    have: Sequence[tuple[Interaction, Any]],
    total_w: float,
    stats: CategoryStats,
) -> Preference | None:
    """A choice the shopper picked more often than the category offers it ("over-ear")."""
    if len(have) < 2 or total_w <= 0:
        return None
    shares: dict[str, float] = defaultdict(float)
    for i, v in have:
        shares[str(v)] += i.weight / total_w
    top_value, top_share = max(shares.items(), key=lambda kv: (kv[1], kv[0]))
    base = stats.choice_rate.get(spec.key, {}).get(top_value, 0.0)
    if top_share < 0.5 or base >= 1:
        return None
    imp = max(0.0, (top_share - base) / (1 - base))
    if imp <= 0.05:
        return None
    matching = sum(1 for _, v in have if str(v) == top_value)
    return Preference(spec, "choice", imp, top_value, matching, len(have), dict(shares))


def learn_profile(
    signal: ShopperSignal,
    specs: Sequence[AttrSpec],
    stats: CategoryStats,
    *,
    category_words: Sequence[str] = (),
    constraint_words: Sequence[str] = (),
) -> LearnedProfile:
    """The shopper's revealed preferences for one category, from their own signal only."""
    inter = [i for i in signal.interactions if i.weight > 0]
    prefs: list[Preference] = []
    for spec in specs:
        have = [(i, i.product.attributes.get(spec.key)) for i in inter]
        have = [(i, v) for i, v in have if v is not None]
        total_w = sum(i.weight for i, _ in have)
        n = len(have)
        if spec.kind == "bool":
            base = stats.true_rate.get(spec.key, 0.0)
            if n >= 2 and total_w > 0:
                share = sum(i.weight for i, v in have if v is True) / total_w
                if share > base and base < 1:
                    imp, preferred = (share - base) / (1 - base), True
                elif share < base and base > 0:
                    imp, preferred = (base - share) / base, False
                else:
                    imp, preferred = 0.0, True
                if imp > 0.05:
                    matching = sum(1 for _, v in have if v is preferred)
                    prefs.append(Preference(spec, "bool", imp, preferred, matching, n))
                    continue
            if spec.better == "higher":
                prefs.append(Preference(spec, "bool", 0.2, True, personal=False))
            elif spec.better == "lower":
                prefs.append(Preference(spec, "bool", 0.2, False, personal=False))
            continue
        if spec.kind == "choice":
            taste = _choice_taste(spec, have, total_w, stats)
            if taste is not None:
                prefs.append(taste)
                if is_ordered(spec) and taste.preferred != spec.choices[-1]:
                    continue  # a specific value ("3-season"), not "the higher the better"
            if not is_ordered(spec):
                continue
        numbers = [(i, value_number(i.product, spec)) for i in inter]
        pairs = [(stats.percentile(spec.key, v), i.weight) for i, v in numbers if v is not None]
        if spec.better in ("higher", "lower"):
            direction = 1 if spec.better == "higher" else -1
            lean = 0.0
            if len(pairs) >= 2:
                mean = sum(p * w for p, w in pairs) / sum(w for _, w in pairs)
                lean = max(0.0, (mean - 0.5) * 2 * direction)
            prefs.append(
                Preference(
                    spec,
                    "directed",
                    0.25 + 0.75 * lean,
                    direction,
                    0,
                    len(pairs),
                    personal=lean > 0,
                )
            )
        elif len(pairs) >= 2:
            values = [(v, i.weight) for i, v in numbers if v is not None]
            target = _weighted_quantile(values, 0.5)
            total = sum(w for _, w in pairs)
            mean = sum(p * w for p, w in pairs) / total
            spread = math.sqrt(sum(w * (p - mean) ** 2 for p, w in pairs) / total)
            imp = max(0.0, 1.0 - spread / 0.29)
            if imp > 0.05:
                matching = sum(1 for v, _ in values if abs(v - target) < 1e-9)
                prefs.append(Preference(spec, "target", imp, target, matching, len(pairs)))

    band = None
    priced = [(i.product.price, i.weight) for i in inter]
    if len(priced) >= 2:
        total = sum(w for _, w in priced)
        mean_pct = sum(stats.price_percentile(p) * w for p, w in priced) / total
        band = PriceBand(
            low=_weighted_quantile(priced, 0.2) * 0.9,
            high=_weighted_quantile(priced, 0.8) * 1.1,
            cheapest_seen=min(p for p, _ in priced),
            dearest_seen=max(p for p, _ in priced),
            seen=len(priced),
            sensitivity=min(0.7, max(0.0, 1.0 - 2.0 * mean_pct)),
        )
    brand_weight: dict[str, float] = defaultdict(float)
    brand_views: Counter[str] = Counter()
    for i in inter:
        brand_weight[i.product.brand] += i.weight
        if i.views:
            brand_views[i.product.brand] += 1
    for brand, count in signal.brands_bought.items():
        brand_weight[brand] += 1.5 * count

    # Words already enforced as hard constraints ("4 person") would only score twice.
    skip = set(STOPWORDS) | {t for w in (*category_words, *constraint_words) for t in tokens(w)}
    terms: list[str] = []
    for search in signal.searches:
        for tok in tokens(search.query):
            if tok not in skip and not tok.isdigit() and tok not in terms:
                terms.append(tok)
    return LearnedProfile(
        preferences=tuple(prefs),
        band=band,
        brand_weight=dict(brand_weight),
        brand_views=dict(brand_views),
        brands_bought=dict(signal.brands_bought),
        terms=tuple(terms),
        queries=tuple(s.query for s in signal.searches),
        interest={i.product.id: i.weight for i in inter},
    )


def product_text_tokens(product: ProductFacts, specs: Sequence[AttrSpec]) -> set[str]:
    """Words a search term can match: title, brand and the attribute names and values."""
    words = [product.title, product.brand]
    for spec in specs:
        raw = product.attributes.get(spec.key)
        if raw is True:
            words.append(spec.label)
            words.append(spec.key.replace("_", " "))
        elif isinstance(raw, str):
            words.append(raw)
        elif raw is not None and not isinstance(raw, bool) and spec.unit:
            words.append(f"{raw:g}{spec.unit}" if isinstance(raw, float) else f"{raw}{spec.unit}")
    out: set[str] = set()
    for w in words:
        toks = tokens(w.replace("-", " "))
        out.update(toks)
        out.add("".join(toks))  # "noise-cancelling" also matches "noisecancelling"
    return out


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


@dataclass(frozen=True)
class Scored:
    product: ProductFacts
    total: float
    factors: Mapping[str, float]
    quality_stars: float  # the Bayesian-average rating
    attribute_scores: Mapping[str, float]
    matched_terms: tuple[str, ...]


@dataclass(frozen=True)
class _Column:
    """One field of every product, as an index into its distinct values."""

    codes: list[int]
    values: list[Any]
    first: list[int]  # a row holding each distinct value, to judge it on


def _intern(values: Sequence[Any]) -> _Column:
    index: dict[Any, int] = {}
    distinct: list[Any] = []
    first: list[int] = []
    codes: list[int] = []
    for row, value in enumerate(values):
        # The type is part of the key: True, 1 and 1.0 are equal in a dict but not to scoring.
        try:
            key: Any = (value.__class__, value)
            code = index.get(key)
        except TypeError:  # a list or mapping: compare by its text
            key = (value.__class__, repr(value))
            code = index.get(key)
        if code is None:
            code = index[key] = len(distinct)
            distinct.append(value)
            first.append(row)
        codes.append(code)
    return _Column(codes, distinct, first)


def _gather(values: Sequence[T], rows: Sequence[int]) -> list[T]:
    """`[values[r] for r in rows]`, done by `itemgetter` in C: scoring does this a lot."""
    if len(rows) == 1:
        return [values[rows[0]]]
    return list(itemgetter(*rows)(values)) if rows else []


def _weighted(weight: float, column: Sequence[float]) -> Iterator[float]:
    return map(mul, repeat(weight), column)


class CategoryPool:
    """A category's in-stock products and what scoring reads from them, worked out once.

    Values are kept column by column, as codes into each column's distinct values, so a preference,
    a price fit or a constraint is judged once per distinct value rather than once per product,
    and the per-product arithmetic runs in `map` over whole columns: that is what keeps scoring
    thousands of products cheap in plain Python. Columns are filled on first use; filling one
    twice from two threads gives the same result, so a pool can be shared.
    """

    def __init__(
        self,
        products: Sequence[ProductFacts],
        specs: Sequence[AttrSpec],
        *,
        stats: CategoryStats | None = None,
        tokens: Mapping[int, tuple[str, ...]] | None = None,
    ) -> None:
        self.products: tuple[ProductFacts, ...] = tuple(products)
        self.specs: tuple[AttrSpec, ...] = tuple(specs)
        self.stats = stats if stats is not None else category_stats(self.products, self.specs)
        self.ids = [p.id for p in self.products]
        self.prices = [p.price for p in self.products]
        self.row_of = {pid: row for row, pid in enumerate(self.ids)}
        # Longest first, so "Nile Basics" is found before a brand called "Nile".
        self.brands = sorted({p.brand for p in self.products}, key=lambda b: (-len(b), b))
        self._columns: dict[str, _Column] = {}
        known = tokens or {}
        self._tokens: list[tuple[str, ...] | None] = [known.get(pid) for pid in self.ids]
        self._term_rows: dict[str, frozenset[int]] = {}
        self._derived: dict[tuple[str, float], list[float]] = {}

    def __len__(self) -> int:
        return len(self.products)

    def with_products(self, products: Sequence[ProductFacts]) -> CategoryPool:
        """The same products in the same order with new stock counts; the rest is kept."""
        products = tuple(products)
        if [p.id for p in products] != self.ids:
            raise ValueError("with_products takes the same products in the same order")
        clone = copy.copy(self)
        clone.products = products
        clone._columns = {k: v for k, v in self._columns.items() if k != "stock"}
        clone._derived = {k: v for k, v in self._derived.items() if k[0] != "availability"}
        return clone

    def column(self, field_name: str) -> _Column:
        """`price`, `rating`, `brand`, `stock`, or `attributes.<key>`, interned."""
        found = self._columns.get(field_name)
        if found is None:
            if field_name.startswith("attributes."):
                key = field_name.removeprefix("attributes.")
                values = [p.attributes.get(key) for p in self.products]
            else:
                values = [getattr(p, field_name) for p in self.products]
            found = self._columns[field_name] = _intern(values)
        return found

    def tokens(self, rows: Sequence[int]) -> list[tuple[str, ...]]:
        """The words a search term can match (see `product_text_tokens`), for each of `rows`.

        Tuples, not sets: tuples of strings drop out of the garbage collector's sight, and a
        worker keeps tens of thousands of them.
        """
        known = self._tokens
        for row in [r for r in rows if known[r] is None]:
            known[row] = tuple(sorted(product_text_tokens(self.products[row], self.specs)))
        return _gather(known, rows)  # type: ignore[arg-type]

    def rows_matching(self, term: str) -> frozenset[int]:
        """The rows whose words include `term`, found once per term."""
        found = self._term_rows.get(term)
        if found is None:
            every = range(len(self.products))
            found = frozenset(compress(every, map(contains, self.tokens(every), repeat(term))))
            self._term_rows[term] = found
        return found

    def known_tokens(self) -> dict[int, tuple[str, ...]]:
        """Token lists worked out so far, by product id (a rebuilt pool can start from them)."""
        return {pid: t for pid, t in zip(self.ids, self._tokens, strict=True) if t is not None}

    def stars(self, prior: float) -> list[float]:
        """Each product's Bayesian-average rating with `prior` pseudo-ratings."""
        found = self._derived.get(("stars", prior))
        if found is None:
            mean = self.stats.mean_rating
            found = [bayes_rating(p, mean, prior) for p in self.products]
            self._derived[("stars", prior)] = found
        return found

    def quality(self, prior: float) -> list[float]:
        """The `quality` factor of each product."""
        found = self._derived.get(("quality", prior))
        if found is None:
            # On a fixed scale (3 stars = 0, 5 stars = 1), so a tenth of a star between two
            # good products stays a small difference however close the candidates are.
            found = [min(1.0, max(0.0, (s - 3.0) / 2.0)) for s in self.stars(prior)]
            self._derived[("quality", prior)] = found
        return found

    def availability(self, low_stock: int) -> list[float]:
        """The `availability` factor of each product: enough stock to ship."""
        found = self._derived.get(("availability", low_stock))
        if found is None:
            found = [min(1.0, p.stock / low_stock) for p in self.products]
            self._derived[("availability", low_stock)] = found
        return found

    def judged(
        self, field_name: str, judge: Callable[[Any, int], Any], rows: Sequence[int]
    ) -> list[Any]:
        """`judge(value, a row holding it)` for each of `rows`, once per distinct value."""
        col = self.column(field_name)
        codes = _gather(col.codes, rows)
        table = self._table(col, judge, set(codes))
        return list(map(table.__getitem__, codes))

    def keep(
        self, field_name: str, admits: Callable[[Any, int], bool], rows: Sequence[int]
    ) -> list[int]:
        """The rows whose value `admits(value, a row holding it)`, once per distinct value."""
        col = self.column(field_name)
        table = self._table(col, admits, range(len(col.values)))
        return list(compress(rows, map(table.__getitem__, _gather(col.codes, rows))))

    @staticmethod
    def _table(col: _Column, judge: Callable[[Any, int], Any], wanted: Iterable[int]) -> list[Any]:
        table: list[Any] = [None] * len(col.values)
        for code in wanted:
            table[code] = judge(col.values[code], col.first[code])
        return table


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
        rows = _gather(self.rows, positions)
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
    ids = _gather(pool.ids, rows)

    terms = profile.terms
    if terms:
        matched = [0] * n
        for term in terms:
            having = pool.rows_matching(term)
            matched = list(map(add, matched, map(contains, repeat(having), rows)))
        search_match = list(map(truediv, matched, repeat(len(terms))))
    else:
        search_match = [0.5] * n

    quality = _gather(pool.quality(config.rating_prior_count), rows)
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
    availability = _gather(pool.availability(config.low_stock), rows)

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
        stars=_gather(pool.stars(config.rating_prior_count), rows),
        prices=_gather(pool.prices, rows),
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
