"""Explainable scoring: revealed preferences, quality, price, brand, availability; no trained model.

Every factor is a number in [0, 1] that a reason can point at; the total is their weighted sum with
the weights from `DecideConfig`. Nothing here reads the database: the service hands in the
shopper's own signal, the category's products and the aggregate co-view similarities.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from marketplace.decide.config import DecideConfig
from marketplace.decide.domain import AttrSpec, Interaction, ProductFacts, ShopperSignal

PrefKind = Literal["bool", "choice", "directed", "target"]

# Words that carry no preference in a search ("best", "for", ...).
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "the",
        "for",
        "with",
        "of",
        "to",
        "in",
        "on",
        "under",
        "over",
        "below",
        "above",
        "less",
        "more",
        "than",
        "at",
        "most",
        "least",
        "up",
        "best",
        "good",
        "great",
        "top",
        "cheap",
        "cheapest",
        "new",
        "buy",
        "me",
        "my",
        "i",
        "want",
        "need",
        "looking",
        "find",
        "show",
        "help",
        "choose",
        "pick",
        "decide",
        "some",
        "any",
        "that",
        "this",
        "is",
        "are",
        "be",
        "it",
        "its",
        "which",
        "what",
        "price",
        "priced",
        "dollars",
        "usd",
    ]
)
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
    if spec.numeric:
        return product.number(spec.key)
    if spec.kind == "choice" and spec.better and spec.choices:
        raw = product.attributes.get(spec.key)
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
        raw = product.attributes.get(self.spec.key)
        if raw is None:
            return None
        if self.kind == "bool":
            return 1.0 if raw is self.preferred else 0.0
        if self.kind == "choice":
            top = max(self.shares.values()) if self.shares else 1.0
            return min(1.0, self.shares.get(str(raw), 0.0) / top) if top else 0.0
        number = value_number(product, self.spec)
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


def score_products(
    pool: Sequence[ProductFacts],
    profile: LearnedProfile,
    specs: Sequence[AttrSpec],
    stats: CategoryStats,
    config: DecideConfig,
    *,
    co_view: Mapping[int, float] | None = None,
) -> list[Scored]:
    """Score every candidate; best first, ties broken by lower price then lower id."""
    w = config.weights
    co_view = co_view or {}
    co_max = max(co_view.values(), default=0.0)
    brand_max = max(profile.brand_weight.values(), default=0.0)
    stars = {p.id: bayes_rating(p, stats.mean_rating, config.rating_prior_count) for p in pool}
    interest = profile.interest
    interest_max = max(interest.values(), default=0.0)
    out: list[Scored] = []
    for p in pool:
        attr_scores: dict[str, float] = {}
        num = den = 0.0
        for pref in profile.preferences:
            s = pref.score(p, stats)
            if s is None:
                s = 0.0  # an unknown value earns nothing rather than an average
            attr_scores[pref.spec.key] = s
            num += pref.importance * s
            den += pref.importance
        text = product_text_tokens(p, specs) if profile.terms else set()
        matched = tuple(t for t in profile.terms if t in text)
        factors = {
            "attribute_fit": num / den if den else 0.5,
            "search_match": len(matched) / len(profile.terms) if profile.terms else 0.5,
            # On a fixed scale (3 stars = 0, 5 stars = 1), so a tenth of a star between two
            # good products stays a small difference however close the candidates are.
            "quality": min(1.0, max(0.0, (stars[p.id] - 3.0) / 2.0)),
            "price_fit": price_fit(p.price, profile.band, stats.price_percentile(p.price)),
            "interest": interest.get(p.id, 0.0) / interest_max if interest_max else 0.0,
            "brand_affinity": profile.brand_weight.get(p.brand, 0.0) / brand_max
            if brand_max
            else 0.0,
            "co_view": co_view.get(p.id, 0.0) / co_max if co_max else 0.0,
            "availability": min(1.0, p.stock / config.low_stock),
        }
        total = (
            w.attribute_fit * factors["attribute_fit"]
            + w.search_match * factors["search_match"]
            + w.quality * factors["quality"]
            + w.price_fit * factors["price_fit"]
            + w.brand_affinity * factors["brand_affinity"]
            + w.co_view * factors["co_view"]
            + w.availability * factors["availability"]
            + w.interest * factors["interest"]
        )
        if w.house_brand_boost:
            factors["house_brand"] = 1.0 if p.is_house_brand else 0.0
            total += w.house_brand_boost * factors["house_brand"]
        out.append(
            Scored(
                product=p,
                total=total,
                factors={k: round(v, 4) for k, v in factors.items()},
                quality_stars=stars[p.id],
                attribute_scores=attr_scores,
                matched_terms=matched,
            )
        )
    out.sort(key=lambda s: (-s.total, s.product.price, s.product.id))
    return out


def _feature_better(a: ProductFacts, b: ProductFacts, pref: Preference) -> int:
    """+1 when `a` is better than `b` on this preference, -1 when worse, 0 when equal/unknown."""
    key = pref.spec.key
    if pref.kind == "bool":
        va, vb = a.attributes.get(key) is pref.preferred, b.attributes.get(key) is pref.preferred
        return int(va) - int(vb)
    if pref.kind == "directed":
        na, nb = value_number(a, pref.spec), value_number(b, pref.spec)
        if na is None or nb is None or na == nb:
            return 0
        return 1 if (na - nb) * pref.preferred > 0 else -1
    return 0


def features_at_least_as_good(
    candidate: ProductFacts, top: ProductFacts, profile: LearnedProfile
) -> bool:
    """No worse on any preference with a direction, and better on at least one."""
    comparisons = [
        _feature_better(candidate, top, p)
        for p in profile.preferences
        if p.kind in ("bool", "directed")
    ]
    return bool(comparisons) and min(comparisons) >= 0 and max(comparisons) > 0


@dataclass(frozen=True)
class PickSet:
    top: Scored
    budget: Scored | None
    premium: Scored | None
    budget_note: str | None
    premium_note: str | None


def choose_picks(
    scored: Sequence[Scored], profile: LearnedProfile, config: DecideConfig, noun: str
) -> PickSet:
    """Top = best score; budget = clearly cheaper, above a quality floor; premium = an upgrade."""
    if not scored:
        raise ValueError("no candidates to pick from")
    top = scored[0]
    price_cap = top.product.price * config.budget_max_price_ratio
    budget = next(
        (
            s
            for s in scored[1:]
            if s.product.price <= price_cap + 1e-9 and s.quality_stars >= config.budget_min_quality
        ),
        None,
    )
    budget_note = None
    if budget is None:
        cheaper = [s for s in scored[1:] if s.product.price <= price_cap + 1e-9]
        if not cheaper:
            budget_note = (
                f"No budget pick: no other in-stock {noun} cost at most ${price_cap:,.2f} "
                f"({config.budget_max_price_ratio:.0%} of the top pick's price)."
            )
        else:
            budget_note = (
                f"No budget pick: the {len(cheaper)} {noun} at or below ${price_cap:,.2f} "
                f"({config.budget_max_price_ratio:.0%} of the top pick's price) all rate under "
                f"{config.budget_min_quality:g} stars once few reviews are accounted for."
            )
    ceiling = top.product.price * config.premium_max_price_ratio
    dearer = [s for s in scored[1:] if top.product.price + 1e-9 < s.product.price <= ceiling + 1e-9]
    premium = next(
        (
            s
            for s in dearer
            if s.quality_stars >= config.budget_min_quality
            and (
                s.quality_stars >= top.quality_stars
                or features_at_least_as_good(s.product, top.product, profile)
            )
        ),
        None,
    )
    premium_note = None
    if premium is None:
        if not dearer:
            premium_note = (
                f"No premium pick: no in-stock {noun} cost more than the top pick "
                f"(${top.product.price:,.2f}) and at most "
                f"{config.premium_max_price_ratio:g} times as much."
            )
        else:
            premium_note = (
                f"No premium pick: none of the {len(dearer)} pricier {noun} match the top "
                "pick's rating or beat it on the features you care about, with at least "
                f"{config.budget_min_quality:g} stars."
            )
    return PickSet(top, budget, premium, budget_note, premium_note)
