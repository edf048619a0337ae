"""A deterministic, realistic product catalog, generated as a stream.

Every value comes from `random.Random` streams derived from the seed (never the global one), so
the same seed gives the same catalog on every machine. Products are yielded one at a time: a
million never sit in memory together.
"""

from __future__ import annotations

import math
import random
import zlib
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from marketplace.catalog import copywriting
from marketplace.catalog.category_rules import AttrValue
from marketplace.catalog.taxonomy import (
    CATEGORIES,
    HOUSE_BRAND,
    PLATFORM_SELLER,
    AttributeSpec,
    BrandSpec,
    CategorySpec,
)

CHUNK = 10_000
# Normal-like draws are the sum of four uniforms, rescaled to unit variance:
# `(r() + r() + r() + r() - 2.0) * _SQRT3`. Cheaper than `Random.gauss`, and bounded
# at about 3.5 sigma, which suits prices and ratings better than an unbounded tail. They are
# written out where used, like the bounds checks and the `int(r() * n)` picks (faster than
# randrange): at a million products a function call costs as much as the arithmetic.
_SQRT3 = 1.7320508075688772
_MINUTE = timedelta(minutes=1)
_THREE_YEARS_MIN = 3 * 365 * 24 * 60
# Sellers bid 1-4 % of the price per click (times 0.5-1.5 with quality): an advertising cost
# of sales near 25-35 % at the 10 % click-to-order rate of sponsored listings (docs/educators.md).
BID_SHARE_LOW = 0.01
BID_SHARE_HIGH = 0.04
MIN_BID = 0.05

THIRD_PARTY_SELLERS = (
    "BrightDeals Co.",
    "Harbor & Pine Trading",
    "Summit Outlet",
    "Greenleaf Goods",
    "Urban Supply Hub",
    "Northstar Retail",
    "Kiwi Direct",
    "Maple Lane Sellers",
    "BlueCart Wholesale",
    "Everyday Essentials LLC",
    "Crescent Commerce",
    "TopShelf Imports",
)


@dataclass(slots=True)
class GeneratedProduct:
    """One product as the seeder inserts it; `id` runs 1..N in generation order."""

    id: int
    sku: str
    category_slug: str
    title: str
    description: str
    brand: str
    is_house_brand: bool
    price: float
    cost: float
    rating: float
    review_count: int
    stock: int
    seller: str
    seller_type: str
    sponsored_bid: float
    attributes: dict[str, AttrValue]
    created_at: datetime


# A product as a plain tuple, in `GeneratedProduct` field order: what bulk loading works with,
# since building a million objects (or dicts) costs more than generating their values.
ProductRecord = tuple[Any, ...]
RECORD_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(GeneratedProduct))


def _stable_index(text: str, modulo: int) -> int:
    # Python's hash() is salted per process; crc32 keeps brand-to-line choices reproducible.
    return zlib.crc32(text.encode()) % modulo


def _brand_lines(category: CategorySpec, brand: BrandSpec) -> tuple[str, ...]:
    lines = category.lines or ("Classic",)
    start = _stable_index(brand.name + category.slug, len(lines))
    return tuple(lines[(start + k) % len(lines)] for k in range(min(3, len(lines))))


# Draws one attribute value from a product's level and the random stream's `random` method.
AttributeMaker = Callable[[float, Callable[[], float]], AttrValue]
# Turns a product's position (0..1, better is higher) and the stream into a value.
_ValueMaker = Callable[[float, Callable[[], float]], AttrValue]


def _value_maker(spec: AttributeSpec) -> _ValueMaker:
    """The value of `spec` at a position, with every constant of the spec worked out once."""
    if spec.kind == "bool":
        if spec.better is None:
            return lambda position, r: r() < 0.5
        return lambda position, r: r() < 0.1 + 0.8 * position
    if spec.kind == "choice" or spec.steps:
        values: tuple[AttrValue, ...] = spec.choices
        if spec.kind != "choice":
            values = tuple(int(s) for s in spec.steps) if spec.kind == "int" else spec.steps
        last = len(values) - 1
        n = len(values)
        return lambda position, r: values[min(int(position * n), last)]
    low, span = spec.low, spec.high - spec.low
    if spec.kind == "int":
        rounding = 100 if span >= 5000 else 10 if span >= 500 else 1
        return lambda position, r: int(round((low + span * position) / rounding) * rounding)
    return lambda position, r: round(low + span * position, 1)


def _attribute_maker(spec: AttributeSpec) -> AttributeMaker:
    """Draws a value for `spec`; `level` (0..1) is how premium the product is, so better costs more.

    The jitter is drawn even for a matter of taste, whose position is a fresh draw, so every
    attribute consumes the same part of the stream whatever its kind.
    """
    value = _value_maker(spec)
    taste = spec.better is None
    higher = spec.better == "higher"

    def make(level: float, r: Callable[[], float]) -> AttrValue:
        jitter = level + 0.18 * ((r() + r() + r() + r() - 2.0) * _SQRT3)
        jitter = 0.0 if jitter < 0.0 else 1.0 if jitter > 1.0 else jitter
        position = r() if taste else jitter if higher else 1.0 - jitter
        return value(position, r)

    return make


@dataclass(frozen=True, slots=True)
class _BrandPlan:
    """Per-brand values computed once."""

    spec: BrandSpec
    name: str
    is_house_brand: bool
    lines: tuple[str, ...]
    price_shift: float  # the brand's price level on the category's log-price scale
    quality: float
    popularity: float
    intros: tuple[tuple[str, str], ...]  # the text before and after the product's name
    budget_warranty: bool  # one-year warranty for the cheap tiers
    official_store: str


class _CategoryPlan:
    """Per-category values computed once: cumulative brand weights, brands, attribute makers."""

    def __init__(self, spec: CategorySpec) -> None:
        self.spec = spec
        self.slug = spec.slug
        total = sum(b.share for b in spec.brands)
        acc = 0.0
        self.cum: list[float] = []
        for brand in spec.brands:
            acc += brand.share / total
            self.cum.append(acc)
        low, high = spec.price_range
        self.log_low = math.log(low)
        self.log_span = math.log(high / low)
        self.prefix = "".join(part[0] for part in spec.slug.split("-")).upper()[:2]
        self.brands = [
            _BrandPlan(
                spec=b,
                name=b.name,
                is_house_brand=b.is_house_brand,
                lines=_brand_lines(spec, b),
                price_shift=math.log(b.price_factor) / self.log_span,
                quality=b.quality,
                popularity=b.share * (0.6 + b.quality),
                intros=tuple(_split_on_name(t) for t in copywriting.TIER_INTROS[b.tier]),
                budget_warranty=b.tier in ("budget", "value"),
                official_store=f"{b.name} Official Store",
            )
            for b in spec.brands
        ]
        self.last_brand = len(self.brands) - 1
        self.makers = [(a.key, _attribute_maker(a)) for a in spec.attributes]
        self.fix_up = spec.fix_up
        self.make_title = spec.make_title
        self.noun_lower = spec.noun.lower()
        self.uses = copywriting.USES.get(spec.slug, ("",))
        # (key, label, unit, is a yes/no feature) for the description's highlights
        self.highlights = [
            (a.key, a.label.lower(), _unit_suffix(a.unit), a.kind == "bool")
            for a in spec.attributes
        ]

    def brand(self, u: float) -> _BrandPlan:
        """The brand whose cumulative share first reaches `u`."""
        return self.brands[min(bisect_left(self.cum, u), self.last_brand)]


def _unit_suffix(unit: str | None) -> str:
    """What follows a number in its unit: " mm", "-inch" or nothing."""
    if unit is None:
        return ""
    return f" {unit}" if unit not in ("in",) else "-inch"


def _split_on_name(template: str) -> tuple[str, str]:
    """The text of `template` before and after its `{name}`, formatted once, not per product."""
    before, after = template.format(name="\0").split("\0")
    return before, after


def _title(plan: _CategoryPlan, head: str, attrs: dict[str, AttrValue]) -> str:
    """A marketplace-style title: brand, line and model, then the features that sell it."""
    if plan.make_title is None:
        return f"{head} {plan.spec.noun}"
    written = {k: f"{v:g}" if isinstance(v, float) else v for k, v in attrs.items()}
    return plan.make_title(head, written)


class CatalogGenerator:
    """Yields products for one seed; the same seed gives the same products in the same order."""

    def __init__(self, *, seed: int, now: datetime) -> None:
        self.seed = seed
        self.now = now
        self.plans = [_CategoryPlan(spec) for spec in CATEGORIES]
        # A fixed, shuffled cycle of category slots gives every category its share even in a
        # 300-product catalog, instead of leaving small categories to chance.
        cycle_rng = random.Random(f"catalog-cycle:{seed}")
        self.cycle = [i for i, spec in enumerate(CATEGORIES) for _ in range(spec.weight)]
        cycle_rng.shuffle(self.cycle)

    def products(self, count: int, *, start: int = 0) -> Iterator[GeneratedProduct]:
        """Products `start` .. `start + count - 1` (0-based) of this seed's catalog, streamed.

        Each block of `CHUNK` products has its own random stream, so any block can be made on
        its own (in another process, say) and still equal the one made in sequence.
        """
        for record in self.records(count, start=start):
            yield GeneratedProduct(*record)

    def records(self, count: int, *, start: int = 0) -> Iterator[ProductRecord]:
        """The same products as `products`, as plain tuples in `RECORD_FIELDS` order."""
        index = start
        stop = start + count
        while index < stop:
            chunk = index // CHUNK
            rng = random.Random(f"catalog:{self.seed}:{chunk}")
            # Fast-forward inside the chunk by generating and dropping, so a start in the
            # middle of a chunk still gives the same products.
            for skipped in range(chunk * CHUNK, index):
                self._product(skipped + 1, self._plan(skipped), rng)
            chunk_stop = min(stop, (chunk + 1) * CHUNK)
            for i in range(index, chunk_stop):
                yield self._product(i + 1, self._plan(i), rng)
            index = chunk_stop

    def _plan(self, index: int) -> _CategoryPlan:
        return self.plans[self.cycle[index % len(self.cycle)]]

    def _product(self, pid: int, plan: _CategoryPlan, rng: random.Random) -> ProductRecord:
        r = rng.random
        brand = plan.brand(r())
        # Price position on a log scale: normal noise there makes prices log-normal (many cheap
        # listings, a long premium tail), shifted by how expensive the brand is.
        position = 0.36 + 0.21 * ((r() + r() + r() + r() - 2.0) * _SQRT3) + brand.price_shift
        position = 0.0 if position < 0.0 else 1.0 if position > 1.0 else position
        price = math.exp(plan.log_low + plan.log_span * position)
        price = round(price) - 0.01 if price >= 10 else round(price, 1) - 0.01
        price = max(round(price, 2), 1.99)
        # How well specified the product is; mostly follows price, plus the brand's quality.
        level = (
            0.75 * position + 0.25 * brand.quality + 0.08 * ((r() + r() + r() + r() - 2.0) * _SQRT3)
        )
        level = 0.0 if level < 0.0 else 1.0 if level > 1.0 else level
        attrs: dict[str, AttrValue] = {key: make(level, r) for key, make in plan.makers}
        if plan.fix_up is not None:
            plan.fix_up(attrs, rng)

        line = brand.lines[int(r() * len(brand.lines))]
        model = 100 * (1 + min(int(level * 9), 8))
        suffix = rng.choice(("", "", "", " Lite", " SE")) if level < 0.35 else ""
        if level >= 0.6:
            suffix = rng.choice(("", "", " Pro", " X", " Max"))
        head = f"{brand.name} {line} {model}{suffix}"
        title = _title(plan, head, attrs)

        quality = brand.quality
        rating = (
            3.75
            + 0.85 * quality
            + 0.35 * (level - 0.5)
            + 0.25 * ((r() + r() + r() + r() - 2.0) * _SQRT3)
        )
        if r() < 0.07 - 0.05 * quality:  # the occasional lemon
            rating -= rng.uniform(1.0, 2.2)
        rating = round(1.0 if rating < 1.0 else 5.0 if rating > 5.0 else rating, 1)
        # Pareto tail: most listings have a handful of reviews, a few have tens of thousands.
        reviews = int((rng.paretovariate(1.1) - 1.0) * 90 * brand.popularity)
        if r() < 0.06:
            reviews = 0
        review_count = min(reviews, 250_000)

        if r() < 0.08:
            stock = 0
        else:
            stock = max(1, int(math.exp(3.2 + 1.1 * ((r() + r() + r() + r() - 2.0) * _SQRT3))))
        stock = min(stock, 5000)

        if brand.is_house_brand:
            seller, seller_type = PLATFORM_SELLER, "platform"
            cost = price * rng.uniform(0.32, 0.48)
            bid_chance = 0.2
        else:
            draw = r()
            if draw < 0.35:
                seller, seller_type = PLATFORM_SELLER, "platform"
            elif draw < 0.6:
                seller, seller_type = brand.official_store, "third-party"
            else:
                seller = THIRD_PARTY_SELLERS[int(r() * len(THIRD_PARTY_SELLERS))]
                seller_type = "third-party"
            cost = price * rng.uniform(0.55, 0.82)
            bid_chance = 0.12
        sponsored_bid = 0.0
        if r() < bid_chance:
            # Cost per click as sellers bid it: a share of the price (what a click is worth at
            # their conversion rate and advertising budget), higher for better products.
            share = rng.uniform(BID_SHARE_LOW, BID_SHARE_HIGH) * (0.5 + position)
            sponsored_bid = max(MIN_BID, round(price * share, 2))

        description = self._description(plan, brand, head, attrs, rng)
        created_at = self.now - _MINUTE * int(r() * _THREE_YEARS_MIN)
        # In RECORD_FIELDS order.
        return (
            pid,
            f"NL-{plan.prefix}-{pid:08d}",
            plan.slug,
            title,
            description,
            brand.name,
            brand.is_house_brand,
            price,
            round(cost, 2),
            rating,
            review_count,
            stock,
            seller,
            seller_type,
            sponsored_bid,
            attrs,
            created_at,
        )

    def _description(
        self,
        plan: _CategoryPlan,
        brand: _BrandPlan,
        head: str,
        attrs: dict[str, AttrValue],
        rng: random.Random,
    ) -> str:
        r = rng.random
        before, after_name = brand.intros[int(r() * len(brand.intros))]
        intro = f"{before}{head} {plan.noun_lower}{after_name}"
        uses = plan.uses
        use = uses[int(r() * len(uses))]
        highlights = []
        for key, label, unit, is_feature in plan.highlights:
            value = attrs[key]
            if is_feature:
                if value:
                    highlights.append(label)
            elif type(value) is float:
                highlights.append(f"{label} {value:g}{unit}")
            else:
                highlights.append(f"{label} {value}{unit}")
        specs = "Highlights: " + "; ".join(highlights) + "."
        after_sale = copywriting.AFTER_SALE[int(r() * len(copywriting.AFTER_SALE))]
        years = (
            copywriting.BUDGET_WARRANTY_YEARS
            if brand.budget_warranty
            else rng.choice(copywriting.WARRANTY_YEARS)
        )
        return f"{intro} {use} {specs} {copywriting.AFTER_SALE_TEXT[after_sale, years]}"


def generate_products(count: int, *, seed: int, now: datetime) -> Iterator[GeneratedProduct]:
    """The first `count` products of the catalog for `seed`, streamed."""
    return CatalogGenerator(seed=seed, now=now).products(count)


__all__ = [
    "HOUSE_BRAND",
    "RECORD_FIELDS",
    "CatalogGenerator",
    "GeneratedProduct",
    "ProductRecord",
    "generate_products",
]
