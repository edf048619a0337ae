"""The seeded shoppers: public accounts and stated intents, and their hidden preferences.

Each persona is an ordinary account on the platform (email, password, name) whose searches, views,
cart changes and past orders are seeded into the platform's history (`sandbox.seeding`). Its
`PreferenceProfile` lives only here, on the harness side: the platform never stores or serves it.
`sandbox.utility` turns a profile into the ground truth that the Help Me Decide evaluation and
the simulated shoppers score products with.

All personas share the password `persona-pass-1`, e.g.
`sandbox agent NAME --as student@personas.nile.test --password persona-pass-1`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from marketplace.catalog.taxonomy import category_spec

PERSONA_PASSWORD = "persona-pass-1"  # noqa: S105 - the documented password of the demo accounts
PERSONA_DOMAIN = "personas.nile.test"


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


__all__ = [
    "PERSONAS",
    "PERSONA_DOMAIN",
    "PERSONA_PASSWORD",
    "AttributePreference",
    "Persona",
    "PreferenceProfile",
    "is_persona_email",
    "persona",
]
