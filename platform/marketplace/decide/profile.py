"""The shopper's learned profile: what their own history reveals about one category.

Preferences per attribute (measured against how common each value is in the category), the price
band they keep to and the brands and search words they return to. Nothing here reads the
database: the service hands in the shopper's own signal and the category's products.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from marketplace.decide.domain import (
    AttrSpec,
    Interaction,
    ProductFacts,
    ShopperSignal,
    as_number,
)
from marketplace.decide.stopwords import STOPWORDS

PrefKind = Literal["bool", "choice", "directed", "target"]

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
