"""The seeded shoppers: public accounts with plausible histories, and hidden preferences.

Each persona is an ordinary account on the platform (email, password, name) whose searches, views,
cart changes and past orders are seeded into the platform's history. Its `PreferenceProfile` lives
only here, on the harness side: the platform never stores or serves it. `utility()` is the ground
truth that the Help Me Decide evaluation and the simulated shoppers score products with.

All personas share the password `persona-pass-1`, e.g.
`sandbox agent NAME --as student@personas.nile.test --password persona-pass-1`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.accounts.models import Account
from marketplace.accounts.service import register
from marketplace.cart import service as cart_service
from marketplace.catalog.models import Category, Product
from marketplace.catalog.taxonomy import AttributeSpec, category_spec
from marketplace.core.db import Database
from marketplace.history.service import record_event
from marketplace.orders import service as orders_service

PERSONA_PASSWORD = "persona-pass-1"  # noqa: S105 - the documented password of the demo accounts
PERSONA_DOMAIN = "personas.nile.test"

# How many days of history the seed spreads over, ending at `now`.
HISTORY_DAYS = 30
# Products considered per category when seeding; bounds the work on a million-product catalog.
_CANDIDATES_PER_CATEGORY = 600


@dataclass(frozen=True)
class AttributePreference:
    """How much one attribute matters, and which value is wanted.

    Without a `target` the attribute's own direction applies (more battery is better, less
    weight is better; for a yes/no feature, having it). With a `target` the closer the better:
    a choice or yes/no value must match, a number is scored by its distance over the range.
    A negative weight turns the preference around (e.g. a persona who avoids a feature).
    """

    weight: float
    target: str | float | bool | None = None


@dataclass(frozen=True)
class PreferenceProfile:
    """What a persona really wants; hidden from the platform.

    `price_sensitivity` and `quality_sensitivity` run from 0 (indifferent) to 1 (decisive);
    `brand_loyalty` is the bonus a favourite brand earns, `brand_aversion` the malus of an
    avoided one; `budgets` is the price per category the persona has in mind.
    """

    attribute_weights: Mapping[str, Mapping[str, AttributePreference]]
    price_sensitivity: float
    quality_sensitivity: float
    budgets: Mapping[str, float]
    favourite_brands: tuple[str, ...] = ()
    brand_loyalty: float = 0.0
    avoided_brands: tuple[str, ...] = ()
    brand_aversion: float = 0.0


@dataclass(frozen=True)
class Persona:
    """A seeded shopper: the public account and stated intent, plus the hidden profile."""

    key: str
    name: str
    summary: str
    interests: tuple[str, ...]  # category slugs, the one being decided on right now first
    queries: Mapping[str, str]  # category slug -> what the persona types into search
    profile: PreferenceProfile = field(repr=False)
    orders: int = 2  # past orders to seed

    @property
    def email(self) -> str:
        return f"{self.key}@{PERSONA_DOMAIN}"

    @property
    def password(self) -> str:
        return PERSONA_PASSWORD

    @property
    def main_category(self) -> str:
        return self.interests[0]

    def query_for(self, category_slug: str) -> str:
        return self.queries.get(category_slug, category_spec(category_slug).name.lower())


P = AttributePreference

PERSONAS: tuple[Persona, ...] = (
    Persona(
        key="student",
        name="Sam Rivera",
        summary="A budget student who wants wireless headphones that last a day of lectures.",
        interests=("headphones", "laptops", "backpacks"),
        queries={
            "headphones": "wireless headphones under 60",
            "laptops": "cheap laptop for school",
            "backpacks": "laptop backpack",
        },
        profile=PreferenceProfile(
            attribute_weights={
                "headphones": {
                    "wireless": P(0.35),
                    "battery_hours": P(0.3),
                    "noise_cancelling": P(0.15),
                    "form": P(0.2, "in-ear"),
                },
                "laptops": {"battery_hours": P(0.4), "weight_kg": P(0.3), "ram_gb": P(0.3)},
                "backpacks": {"laptop_sleeve": P(0.5), "waterproof": P(0.2), "weight_kg": P(0.3)},
            },
            price_sensitivity=0.9,
            quality_sensitivity=0.3,
            budgets={"headphones": 60.0, "laptops": 650.0, "backpacks": 45.0},
            favourite_brands=("Nile Basics",),
            brand_loyalty=0.05,
        ),
        orders=2,
    ),
    Persona(
        key="audiophile",
        name="Avery Chen",
        summary="An audiophile after the best-sounding over-ear headphones, price a minor concern.",
        interests=("headphones", "monitors"),
        queries={
            "headphones": "over-ear headphones big drivers",
            "monitors": "4k monitor for music production",
        },
        profile=PreferenceProfile(
            attribute_weights={
                "headphones": {
                    "driver_mm": P(0.4),
                    "form": P(0.3, "over-ear"),
                    "noise_cancelling": P(0.1),
                    "wireless": P(-0.2),
                },
                "monitors": {"resolution": P(0.5), "panel": P(0.3), "hdr": P(0.2)},
            },
            price_sensitivity=0.15,
            quality_sensitivity=0.9,
            budgets={"headphones": 450.0, "monitors": 900.0},
            favourite_brands=("Kestrel Audio", "Aurelo"),
            brand_loyalty=0.25,
            avoided_brands=("Bassline",),
            brand_aversion=0.3,
        ),
        orders=2,
    ),
    Persona(
        key="outdoor-family",
        name="Jordan Okafor",
        summary="A family of four planning summer camping trips with the kids.",
        interests=("tents", "backpacks", "kids-toys"),
        queries={
            "tents": "4 person family tent",
            "backpacks": "hiking backpack with hip belt",
            "kids-toys": "outdoor toys for kids",
        },
        profile=PreferenceProfile(
            attribute_weights={
                "tents": {
                    "capacity": P(0.35, 4.0),
                    "season": P(0.1, "3-season"),
                    "waterproof_mm": P(0.25),
                    "freestanding": P(0.15),
                    "setup_minutes": P(0.15),
                },
                "backpacks": {"hip_belt": P(0.4), "volume_l": P(0.3, 45.0), "waterproof": P(0.3)},
                "kids-toys": {"age_min": P(0.5, 6.0), "educational": P(0.3), "material": P(0.2)},
            },
            price_sensitivity=0.55,
            quality_sensitivity=0.6,
            budgets={"tents": 320.0, "backpacks": 140.0, "kids-toys": 45.0},
        ),
        orders=3,
    ),
    Persona(
        key="home-office",
        name="Priya Natarajan",
        summary="Works from home and is fitting out a desk: a chair first, a monitor after.",
        interests=("office-chairs", "monitors", "coffee-makers"),
        queries={
            "office-chairs": "ergonomic office chair lumbar support",
            "monitors": "27 inch usb-c monitor",
            "coffee-makers": "programmable coffee maker",
        },
        profile=PreferenceProfile(
            attribute_weights={
                "office-chairs": {
                    "lumbar_support": P(0.35),
                    "armrests": P(0.25),
                    "headrest": P(0.1),
                    "warranty_years": P(0.2),
                    "max_load_kg": P(0.1),
                },
                "monitors": {
                    "usb_c": P(0.35),
                    "screen_in": P(0.25, 27.0),
                    "resolution": P(0.3),
                    "refresh_hz": P(0.1),
                },
                "coffee-makers": {
                    "programmable": P(0.5),
                    "type": P(0.3, "drip"),
                    "capacity_cups": P(0.2),
                },
            },
            price_sensitivity=0.4,
            quality_sensitivity=0.75,
            budgets={"office-chairs": 420.0, "monitors": 380.0, "coffee-makers": 120.0},
        ),
        orders=2,
    ),
    Persona(
        key="gift-buyer",
        name="Morgan Lee",
        summary="Buys birthday presents for a nephew and friends; goes by reviews.",
        interests=("kids-toys", "headphones", "phone-cases"),
        queries={
            "kids-toys": "educational building set for 8 year old",
            "headphones": "headphones gift",
            "phone-cases": "phone case gift",
        },
        profile=PreferenceProfile(
            attribute_weights={
                "kids-toys": {
                    "educational": P(0.3),
                    "age_min": P(0.3, 8.0),
                    "toy_type": P(0.25, "building set"),
                    "pieces": P(0.15),
                },
                "headphones": {"wireless": P(0.5), "noise_cancelling": P(0.5)},
                "phone-cases": {"drop_protection_m": P(0.5), "magnetic_charging": P(0.5)},
            },
            price_sensitivity=0.5,
            quality_sensitivity=0.85,
            budgets={"kids-toys": 60.0, "headphones": 120.0, "phone-cases": 35.0},
        ),
        orders=3,
    ),
    Persona(
        key="brand-loyalist",
        name="Casey Morgan",
        summary="Sticks to the brands that served them well; shopping for a new laptop.",
        interests=("laptops", "headphones", "phone-cases"),
        queries={
            "laptops": "veridian laptop",
            "headphones": "aurelo wireless headphones",
            "phone-cases": "shieldcraft case",
        },
        profile=PreferenceProfile(
            attribute_weights={
                "laptops": {
                    "cpu": P(0.35),
                    "ram_gb": P(0.3),
                    "screen_in": P(0.15, 14.0),
                    "weight_kg": P(0.2),
                },
                "headphones": {
                    "wireless": P(0.4),
                    "noise_cancelling": P(0.4),
                    "battery_hours": P(0.2),
                },
                "phone-cases": {
                    "drop_protection_m": P(0.4),
                    "thickness_mm": P(0.3),
                    "magnetic_charging": P(0.3),
                },
            },
            price_sensitivity=0.3,
            quality_sensitivity=0.5,
            budgets={"laptops": 1500.0, "headphones": 300.0, "phone-cases": 50.0},
            favourite_brands=("Veridian", "Aurelo", "Shieldcraft"),
            brand_loyalty=0.6,
            avoided_brands=("Nile Basics",),
            brand_aversion=0.2,
        ),
        orders=3,
    ),
    Persona(
        key="runner",
        name="Riley Park",
        summary="Trains for a half marathon; wants light road shoes and in-ear headphones.",
        interests=("running-shoes", "headphones", "blenders"),
        queries={
            "running-shoes": "lightweight road running shoes",
            "headphones": "wireless sport earbuds",
            "blenders": "blender with to-go cups",
        },
        profile=PreferenceProfile(
            attribute_weights={
                "running-shoes": {
                    "terrain": P(0.3, "road"),
                    "weight_g": P(0.3),
                    "cushioning": P(0.2),
                    "drop_mm": P(0.1, 8.0),
                    "carbon_plate": P(0.1),
                },
                "headphones": {"form": P(0.4, "in-ear"), "wireless": P(0.4), "weight_g": P(0.2)},
                "blenders": {"personal_cups": P(0.6), "wattage": P(0.4)},
            },
            price_sensitivity=0.5,
            quality_sensitivity=0.6,
            budgets={"running-shoes": 150.0, "headphones": 110.0, "blenders": 90.0},
        ),
        orders=2,
    ),
    Persona(
        key="home-cook",
        name="Dana Kowalski",
        summary="Loves espresso and a tidy kitchen; weighs quality over price.",
        interests=("coffee-makers", "blenders", "vacuum-cleaners"),
        queries={
            "coffee-makers": "espresso machine with grinder",
            "blenders": "high power blender",
            "vacuum-cleaners": "cordless vacuum hepa",
        },
        profile=PreferenceProfile(
            attribute_weights={
                "coffee-makers": {
                    "type": P(0.35, "espresso"),
                    "built_in_grinder": P(0.3),
                    "pressure_bar": P(0.25),
                    "programmable": P(0.1),
                },
                "blenders": {"wattage": P(0.5), "speeds": P(0.2), "dishwasher_safe": P(0.3)},
                "vacuum-cleaners": {
                    "cordless": P(0.35),
                    "hepa_filter": P(0.35),
                    "noise_db": P(0.3),
                },
            },
            price_sensitivity=0.35,
            quality_sensitivity=0.75,
            budgets={"coffee-makers": 500.0, "blenders": 200.0, "vacuum-cleaners": 350.0},
        ),
        orders=2,
    ),
)

_BY_KEY: dict[str, Persona] = {p.key: p for p in PERSONAS}
_BY_EMAIL: dict[str, Persona] = {p.email: p for p in PERSONAS}


def persona(email_or_key: str) -> Persona:
    """The persona with this key (`student`) or email (`student@personas.nile.test`)."""
    wanted = email_or_key.strip().lower()
    found = _BY_KEY.get(wanted) or _BY_EMAIL.get(wanted)
    if found is None:
        raise KeyError(
            f"no persona {email_or_key!r}; known personas: {', '.join(_BY_KEY)} "
            f"(or their emails, KEY@{PERSONA_DOMAIN})"
        )
    return found


def is_persona_email(email: str) -> bool:
    return email.strip().lower() in _BY_EMAIL


# --- ground truth ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductFacts:
    """What `utility` needs to know about a product; build it from an API item or a table row."""

    id: int
    category: str
    brand: str
    price: float
    rating: float
    review_count: int
    attributes: Mapping[str, Any]

    @classmethod
    def of(cls, product: ProductFacts | Mapping[str, Any]) -> ProductFacts:
        """Accept an API product (as JSON) or facts already built."""
        if isinstance(product, ProductFacts):
            return product
        category = product["category"]
        if isinstance(category, Mapping):
            category = category["slug"]
        return cls(
            id=int(product["id"]),
            category=str(category),
            brand=str(product["brand"]),
            price=float(product["price"]),
            rating=float(product.get("rating") or 0.0),
            review_count=int(product.get("review_count") or 0),
            attributes=dict(product.get("attributes") or {}),
        )

    @classmethod
    def from_row(cls, product: Product, category_slug: str) -> ProductFacts:
        return cls(
            id=product.id,
            category=category_slug,
            brand=product.brand,
            price=float(product.price),
            rating=float(product.rating),
            review_count=int(product.review_count),
            attributes=dict(product.attributes or {}),
        )


def default_budget(category_slug: str) -> float:
    """A middle-of-the-market price for a category: the geometric mean of its price range."""
    low, high = category_spec(category_slug).price_range
    return math.sqrt(low * high)


def _span(spec: AttributeSpec) -> float:
    return (spec.high - spec.low) or 1.0


def attribute_fit(spec: AttributeSpec, pref: AttributePreference, value: Any) -> float:
    """How well one attribute value suits one preference, from 0 (not at all) to 1."""
    if value is None:
        return 0.0
    if pref.target is not None:
        if spec.kind in ("int", "float") and not isinstance(pref.target, (str, bool)):
            distance = abs(float(value) - float(pref.target)) / _span(spec)
            return max(0.0, 1.0 - 2.0 * distance)
        return 1.0 if value == pref.target else 0.0
    if spec.kind == "bool":
        return 1.0 if value else 0.0
    if spec.kind == "choice":
        if value not in spec.choices or len(spec.choices) < 2:
            return 0.5
        position = spec.choices.index(value) / (len(spec.choices) - 1)
        return position if spec.better != "lower" else 1.0 - position
    position = min(1.0, max(0.0, (float(value) - spec.low) / _span(spec)))
    return 1.0 - position if spec.better == "lower" else position


def perceived_quality(rating: float, review_count: int) -> float:
    """The rating shrunk towards the average by how few reviews back it, scaled to 0..1."""
    prior, weight = 3.6, 25
    shrunk = (rating * review_count + prior * weight) / (review_count + weight)
    return min(1.0, max(0.0, (shrunk - 1.0) / 4.0))


def utility(profile: PreferenceProfile, product: ProductFacts | Mapping[str, Any]) -> float:
    """How much the persona would value this product: the ground truth.

    attribute fit (0..1) + quality_sensitivity x perceived quality (0..1)
    - price penalty (price against the persona's budget, steeper above it)
    + brand loyalty bonus - brand aversion malus.
    """
    facts = ProductFacts.of(product)
    specs = {spec.key: spec for spec in category_spec(facts.category).attributes}
    prefs = profile.attribute_weights.get(facts.category, {})
    fit, total_weight = 0.0, 0.0
    for key, pref in prefs.items():
        spec = specs.get(key)
        if spec is None or pref.weight == 0:
            continue
        score = attribute_fit(spec, pref, facts.attributes.get(key))
        if pref.weight < 0:
            score = 1.0 - score
        fit += abs(pref.weight) * score
        total_weight += abs(pref.weight)
    attributes = fit / total_weight if total_weight else 0.5

    quality = profile.quality_sensitivity * perceived_quality(facts.rating, facts.review_count)

    budget = profile.budgets.get(facts.category) or default_budget(facts.category)
    ratio = facts.price / budget
    price_penalty = profile.price_sensitivity * min(ratio, 3.0) * 0.5
    if ratio > 1.0:
        price_penalty += (0.3 + profile.price_sensitivity) * (ratio - 1.0)

    brand = 0.0
    if facts.brand in profile.favourite_brands:
        brand += profile.brand_loyalty
    if facts.brand in profile.avoided_brands:
        brand -= profile.brand_aversion
    return round(attributes + quality - price_penalty + brand, 6)


def rank(
    profile: PreferenceProfile, products: Sequence[ProductFacts | Mapping[str, Any]]
) -> list[ProductFacts]:
    """Products from the persona's favourite to least favourite (ties broken by id)."""
    facts = [ProductFacts.of(p) for p in products]
    return sorted(facts, key=lambda f: (-utility(profile, f), f.id))


# --- seeding ---------------------------------------------------------------------------------


def _candidates(session: Session, category_slug: str) -> list[ProductFacts]:
    products = session.scalars(
        select(Product)
        .join(Category, Category.id == Product.category_id)
        .where(Category.slug == category_slug)
        .order_by(Product.id)
        .limit(_CANDIDATES_PER_CATEGORY)
    ).all()
    return [ProductFacts.from_row(p, category_slug) for p in products]


def _stock(session: Session, product_id: int) -> int:
    return int(session.scalar(select(Product.stock).where(Product.id == product_id)) or 0)


class _Seeder:
    """Writes one persona's history through the platform's own services, in time order."""

    def __init__(
        self, session: Session, persona: Persona, account_id: int, rng: random.Random
    ) -> None:
        self.session = session
        self.persona = persona
        self.account_id = account_id
        self.rng = rng
        self.orders_placed = 0

    def record(self, **event: Any) -> None:
        """Add one search or view to the account's history."""
        record_event(self.session, account_id=self.account_id, session_key=None, **event)

    def noisy_ranking(self, products: Sequence[ProductFacts], noise: float) -> list[ProductFacts]:
        # Shoppers mostly look at what suits them, but not only: browsing is noisy.
        profile = self.persona.profile
        scored = [(utility(profile, p) + self.rng.gauss(0.0, noise), p.id, p) for p in products]
        scored.sort(key=lambda item: (-item[0], item[1]))
        return [item[2] for item in scored]

    def search(self, at: datetime, category: str, *, with_budget: bool) -> None:
        filters: dict[str, Any] = {"category": category}
        if with_budget:
            filters["max_price"] = float(
                round(self.persona.profile.budgets.get(category, 0.0) * 1.2)
            )
        self.record(
            kind="search",
            now=at,
            category_slug=category,
            query=self.persona.query_for(category),
            filters=filters,
        )

    def view(self, at: datetime, product: ProductFacts) -> None:
        self.record(kind="view", now=at, product_id=product.id, category_slug=product.category)

    def buy(self, at: datetime, product: ProductFacts) -> bool:
        if _stock(self.session, product.id) < 2:
            return False
        cart_service.add_item(
            self.session, account_id=self.account_id, product_id=product.id, quantity=1, now=at
        )
        self.orders_placed += 1
        orders_service.place_order(
            self.session,
            account_id=self.account_id,
            idempotency_key=f"persona-seed-{self.persona.key}-{self.orders_placed}",
            request=None,
            channel="human",
            now=at + timedelta(minutes=3),
        )
        return True

    def hesitate(self, at: datetime, product: ProductFacts) -> None:
        """Put something in the cart and take it out again: a considered, rejected option."""
        if _stock(self.session, product.id) < 1:
            return
        cart_service.add_item(
            self.session, account_id=self.account_id, product_id=product.id, quantity=1, now=at
        )
        cart_service.remove_item(
            self.session,
            account_id=self.account_id,
            product_id=product.id,
            now=at + timedelta(minutes=self.rng.randint(2, 40)),
        )

    def trip(
        self,
        start: datetime,
        category: str,
        products: Sequence[ProductFacts],
        *,
        views: int,
        buy: bool,
        hesitate: bool,
    ) -> None:
        """One shopping session: a search, a few product views, maybe a cart change or order."""
        at = start
        self.search(at, category, with_budget=self.rng.random() < 0.4)
        ranking = self.noisy_ranking(products, noise=0.12)
        pool = ranking[: max(views * 2, 6)]
        seen = self.rng.sample(pool, k=min(views, len(pool)))
        # Browsing also stumbles on the odd unsuitable product.
        if len(ranking) > len(pool) and self.rng.random() < 0.5:
            seen.append(self.rng.choice(ranking[len(pool) :]))
        for product in seen:
            at += timedelta(minutes=self.rng.randint(1, 6))
            self.view(at, product)
        if not seen:
            return
        favourite = max(seen, key=lambda p: (utility(self.persona.profile, p), -p.id))
        if hesitate:
            others = [p for p in seen if p.id != favourite.id]
            if others:
                at += timedelta(minutes=self.rng.randint(1, 5))
                self.hesitate(at, self.rng.choice(others))
        if buy:
            at += timedelta(minutes=self.rng.randint(2, 10))
            self.view(at, favourite)
            self.buy(at + timedelta(minutes=1), favourite)


def _seed_one(
    session: Session, persona: Persona, account: Account, *, seed: int, now: datetime
) -> None:
    rng = random.Random(f"persona:{seed}:{persona.key}")
    seeder = _Seeder(session, persona, account.id, rng)
    candidates = {slug: _candidates(session, slug) for slug in persona.interests}
    main, others = persona.main_category, list(persona.interests[1:]) or [persona.main_category]

    # Earlier trips, 29 to 6 days ago, in the other interests; the first few end in an order.
    past_days = sorted(rng.sample(range(6, HISTORY_DAYS), k=min(5, HISTORY_DAYS - 6)), reverse=True)
    for index, days_ago in enumerate(past_days):
        category = others[index % len(others)]
        if not candidates[category]:
            continue
        start = now - timedelta(days=days_ago, hours=rng.randint(0, 10), minutes=rng.randint(0, 59))
        seeder.trip(
            start,
            category,
            candidates[category],
            views=rng.randint(2, 5),
            buy=index < persona.orders,
            hesitate=rng.random() < 0.3,
        )

    # The decision in progress: several looks at the main category over the last few days.
    if candidates[main]:
        for days_ago, views in ((4, rng.randint(3, 5)), (2, rng.randint(3, 5)), (0, 3)):
            start = now - timedelta(
                days=days_ago, hours=rng.randint(1, 6) if days_ago == 0 else rng.randint(0, 10)
            )
            seeder.trip(
                start,
                main,
                candidates[main],
                views=views,
                buy=False,
                hesitate=days_ago == 2 and rng.random() < 0.6,
            )


def seed_personas(database: Database, *, seed: int, now: datetime) -> None:
    """Create the persona accounts and their histories; the same seed gives the same histories.

    Personas whose account already exists are left alone, so seeding twice adds nothing.
    """
    with database.session() as session:
        for persona in PERSONAS:
            exists = session.scalar(select(Account.id).where(Account.email == persona.email))
            if exists is not None:
                continue
            account = register(
                session,
                email=persona.email,
                password=persona.password,
                name=persona.name,
                now=now - timedelta(days=HISTORY_DAYS + 30),
            )
            session.flush()
            _seed_one(session, persona, account, seed=seed, now=now)


class _Planner(_Seeder):
    """A `_Seeder` that keeps the searches and views it would write instead of writing them."""

    def __init__(self, session: Session, persona: Persona, rng: random.Random) -> None:
        super().__init__(session, persona, 0, rng)
        self.events: list[dict[str, Any]] = []

    def record(self, **event: Any) -> None:
        self.events.append(event)


# Trips of the decision in progress (main category), newest first: (days ago, views or None).
_RECENT_TRIPS: tuple[tuple[int, int | None], ...] = ((0, 3), (2, None), (4, None))


def seed_history(
    session: Session,
    persona: Persona,
    account_id: int,
    *,
    events: int,
    seed: int,
    now: datetime,
) -> None:
    """Write exactly `events` of the persona's searches and views to the account, up to `now`."""
    # The newest `events` of one stream of trips planned backwards from `now` (the decision in
    # progress in the main category, then earlier trips in the other interests): a longer
    # history holds every event of a shorter one. Nothing is bought or put in the cart, so
    # stock, and with it the best product a persona could get, stays as it was.
    if events < 0:
        raise ValueError(f"events must be 0 or more, not {events}")
    candidates = {slug: _candidates(session, slug) for slug in persona.interests}
    main, others = persona.main_category, list(persona.interests[1:]) or [persona.main_category]
    planned: list[dict[str, Any]] = []
    trip = 0
    while len(planned) < events:
        # One generator per trip: the newest trips come out the same whatever `events` asks for.
        rng = random.Random(f"history:{seed}:{persona.key}:{trip}")
        planner = _Planner(session, persona, rng)
        if trip < len(_RECENT_TRIPS):
            days_ago, fixed_views = _RECENT_TRIPS[trip]
            category, views = main, fixed_views or rng.randint(3, 5)
            hours = rng.randint(1, 6) if days_ago == 0 else rng.randint(0, 10)
            start = now - timedelta(days=days_ago, hours=hours)
        else:
            earlier = trip - len(_RECENT_TRIPS)
            category, views = others[earlier % len(others)], rng.randint(2, 5)
            start = now - timedelta(
                days=6 + earlier, hours=rng.randint(0, 10), minutes=rng.randint(0, 59)
            )
        # A trip in a category with nothing to look at is a search alone, so this ends.
        planner.trip(start, category, candidates[category], views=views, buy=False, hesitate=False)
        planned = planner.events + planned
        trip += 1
    planned.sort(key=lambda event: event["now"])
    writer = _Seeder(session, persona, account_id, random.Random(0))
    for event in planned[len(planned) - events :]:
        writer.record(**event)


__all__ = [
    "PERSONAS",
    "PERSONA_PASSWORD",
    "AttributePreference",
    "Persona",
    "PreferenceProfile",
    "ProductFacts",
    "attribute_fit",
    "default_budget",
    "is_persona_email",
    "perceived_quality",
    "persona",
    "rank",
    "seed_history",
    "seed_personas",
    "utility",
]
