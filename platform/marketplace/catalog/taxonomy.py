"""The store's categories, brands and per-category attribute schemas.

Each spec also names what the catalog generator does per category beyond the schema (its
`category_rules`: plausible attribute combinations, the listing title).

Help Me Decide, the storefront and the harness read products through these specs, so the shape of
`AttributeSpec` and `CategorySpec` is a contract: add fields only at the end, with defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from marketplace.catalog import category_rules as rules

HOUSE_BRAND = "Nile Basics"
PLATFORM_SELLER = "Nile"

AttributeKind = Literal["bool", "int", "float", "choice"]
Better = Literal["higher", "lower"]
Tier = Literal["value", "budget", "mid", "premium"]


@dataclass(frozen=True)
class BrandSpec:
    """A brand in one category: its quality tier, its price level and how common it is."""

    name: str
    tier: Tier
    price_factor: float  # >1 prices above the category's typical level, <1 below
    quality: float  # 0..1: pushes ratings up and failure-prone "bad products" down
    share: float = 1.0  # relative number of listings

    @property
    def is_house_brand(self) -> bool:
        return self.name == HOUSE_BRAND


@dataclass(frozen=True)
class AttributeSpec:
    """One attribute of a category's products.

    `better` says which direction a shopper prefers (None: a matter of taste). For `choice`,
    `choices` run from the cheapest to the most premium option when `better` is "higher".
    `low`/`high` bound numeric values; `steps`, when given, lists the only values that occur.
    `none_at_zero`: a 0 means the product has none (a wired headphone's battery), so the
    specification shows no value rather than "0 h".
    """

    key: str
    label: str
    kind: AttributeKind
    unit: str | None
    better: Better | None
    choices: tuple[str, ...] = ()
    low: float = 0.0
    high: float = 0.0
    steps: tuple[float, ...] = ()
    none_at_zero: bool = False


@dataclass(frozen=True)
class CategorySpec:
    """A category: its brands, attribute schema and price range (in the store's currency)."""

    slug: str
    name: str
    noun: str  # singular listing noun, e.g. "Headphones", "Tent"
    brands: tuple[BrandSpec, ...]
    attributes: tuple[AttributeSpec, ...]
    price_range: tuple[float, float]
    lines: tuple[str, ...] = ()  # product-line names brands draw from ("Pulse", "Trail")
    weight: int = 2  # relative size of the category in a generated catalog
    # How the catalog generator makes plausible listings of the category (`category_rules`):
    # attribute combinations put right after the draw, and the title (else "{head} {noun}").
    fix_up: rules.FixUp | None = field(default=None, repr=False)
    make_title: rules.TitleMaker | None = field(default=None, repr=False)


def _house(quality: float = 0.55, share: float = 0.9) -> BrandSpec:
    return BrandSpec(HOUSE_BRAND, "value", 0.7, quality, share)


def _bool(key: str, label: str, better: Better | None = "higher") -> AttributeSpec:
    return AttributeSpec(key, label, "bool", None, better)


def _int(
    key: str,
    label: str,
    unit: str | None,
    better: Better | None,
    low: float,
    high: float,
    steps: tuple[float, ...] = (),
    *,
    none_at_zero: bool = False,
) -> AttributeSpec:
    return AttributeSpec(
        key, label, "int", unit, better, low=low, high=high, steps=steps, none_at_zero=none_at_zero
    )


def _float(
    key: str,
    label: str,
    unit: str | None,
    better: Better | None,
    low: float,
    high: float,
    steps: tuple[float, ...] = (),
) -> AttributeSpec:
    return AttributeSpec(key, label, "float", unit, better, low=low, high=high, steps=steps)


def _choice(key: str, label: str, better: Better | None, *choices: str) -> AttributeSpec:
    return AttributeSpec(key, label, "choice", None, better, choices=tuple(choices))


CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec(
        slug="headphones",
        name="Headphones",
        noun="Headphones",
        brands=(
            BrandSpec("Aurelo", "premium", 1.6, 0.85),
            BrandSpec("Kestrel Audio", "premium", 2.1, 0.9, 0.6),
            BrandSpec("Sonique", "mid", 1.0, 0.7, 1.3),
            BrandSpec("Vireo", "mid", 0.9, 0.62),
            BrandSpec("Bassline", "budget", 0.55, 0.4, 1.2),
            _house(),
        ),
        attributes=(
            _choice("form", "Form factor", None, "in-ear", "on-ear", "over-ear"),
            _bool("wireless", "Wireless"),
            _bool("noise_cancelling", "Active noise cancelling"),
            _int("battery_hours", "Battery life", "h", "higher", 6, 60, none_at_zero=True),
            _int("weight_g", "Weight", "g", "lower", 40, 380),
            _int("driver_mm", "Driver size", "mm", "higher", 6, 50),
        ),
        price_range=(12.0, 600.0),
        lines=("Pulse", "Studio", "Echo", "Tempo", "Halo", "Drift", "Nimbus"),
        weight=3,
        fix_up=rules.fix_up_headphones,
        make_title=rules.title_headphones,
    ),
    CategorySpec(
        slug="running-shoes",
        name="Running Shoes",
        noun="Running Shoes",
        brands=(
            BrandSpec("Stridewell", "premium", 1.5, 0.85),
            BrandSpec("Vantor", "mid", 1.1, 0.72, 1.2),
            BrandSpec("Trailhawk", "mid", 1.2, 0.75),
            BrandSpec("Lumo Run", "budget", 0.7, 0.5),
            BrandSpec("Pacer & Co", "budget", 0.6, 0.42, 0.8),
            _house(0.5),
        ),
        attributes=(
            _choice("terrain", "Terrain", None, "road", "trail", "track"),
            _choice("cushioning", "Cushioning", "higher", "firm", "balanced", "plush", "max"),
            _int("weight_g", "Weight (one shoe)", "g", "lower", 170, 360),
            _int("drop_mm", "Heel-to-toe drop", "mm", None, 0, 12, (0, 4, 6, 8, 10, 12)),
            _bool("waterproof", "Waterproof"),
            _bool("carbon_plate", "Carbon plate"),
        ),
        price_range=(30.0, 280.0),
        lines=("Glide", "Tempo", "Ridge", "Sprint", "Cloudline", "Pace", "Volt"),
        weight=2,
        make_title=rules.title_running_shoes,
    ),
    CategorySpec(
        slug="tents",
        name="Tents",
        noun="Tent",
        brands=(
            BrandSpec("Summit Ridge", "premium", 1.7, 0.88),
            BrandSpec("Alpenglow Outfitters", "premium", 1.4, 0.8, 0.7),
            BrandSpec("Fernhollow", "mid", 1.0, 0.66),
            BrandSpec("Campwell", "budget", 0.65, 0.45, 1.2),
            BrandSpec("Pinecrest", "mid", 0.9, 0.6),
            _house(0.5),
        ),
        attributes=(
            _int("capacity", "Capacity", "persons", None, 1, 8, (1, 2, 3, 4, 6, 8)),
            _choice("season", "Season rating", "higher", "3-season", "4-season"),
            _float("weight_kg", "Packed weight", "kg", "lower", 0.9, 4.5),
            _int("waterproof_mm", "Waterproof rating", "mm", "higher", 1500, 5000),
            _bool("freestanding", "Freestanding"),
            _int("setup_minutes", "Setup time", "min", "lower", 3, 25),
        ),
        price_range=(35.0, 950.0),
        lines=("Basecamp", "Ridgeline", "Trekker", "Meadow", "Nomad", "Cirrus"),
        weight=2,
        fix_up=rules.fix_up_tents,
        make_title=rules.title_tents,
    ),
    CategorySpec(
        slug="coffee-makers",
        name="Coffee Makers",
        noun="Coffee Maker",
        brands=(
            BrandSpec("Presso Italia", "premium", 1.9, 0.86, 0.7),
            BrandSpec("Caffora", "premium", 1.4, 0.8),
            BrandSpec("Brewtonic", "mid", 1.0, 0.68, 1.2),
            BrandSpec("Morningside", "mid", 0.85, 0.6),
            BrandSpec("Kettleby", "budget", 0.6, 0.45),
            _house(),
        ),
        attributes=(
            _choice("type", "Type", None, "drip", "pod", "french press", "espresso"),
            _int("capacity_cups", "Capacity", "cups", "higher", 1, 14),
            _int("pressure_bar", "Pump pressure", "bar", "higher", 0, 20),
            _bool("programmable", "Programmable timer"),
            _bool("built_in_grinder", "Built-in grinder"),
            _int("wattage", "Power", "W", None, 600, 1800),
        ),
        price_range=(20.0, 1200.0),
        lines=("Barista", "Aroma", "Crema", "Sunrise", "Roast", "Daybreak"),
        weight=2,
        fix_up=rules.fix_up_coffee_makers,
        make_title=rules.title_coffee_makers,
    ),
    CategorySpec(
        slug="laptops",
        name="Laptops",
        noun="Laptop",
        brands=(
            BrandSpec("Veridian", "premium", 1.6, 0.86),
            BrandSpec("Helix Computing", "premium", 1.4, 0.8),
            BrandSpec("Northwind", "mid", 1.0, 0.7, 1.3),
            BrandSpec("Quanta Labs", "mid", 0.9, 0.62),
            BrandSpec("Orbis", "budget", 0.7, 0.48),
            _house(0.5, 0.6),
        ),
        attributes=(
            _choice("cpu", "Processor class", "higher", "Core 3", "Core 5", "Core 7", "Core 9"),
            _int("ram_gb", "Memory", "GB", "higher", 8, 64, (8, 16, 32, 64)),
            _int("storage_gb", "Storage", "GB", "higher", 256, 2048, (256, 512, 1024, 2048)),
            _float("screen_in", "Screen size", "in", None, 13.3, 16.0, (13.3, 14.0, 15.6, 16.0)),
            _int("battery_hours", "Battery life", "h", "higher", 5, 22),
            _float("weight_kg", "Weight", "kg", "lower", 0.95, 2.6),
        ),
        price_range=(250.0, 3400.0),
        lines=("Aero", "Zen", "Vector", "Forge", "Slate", "Edge", "Prism"),
        weight=2,
        fix_up=rules.fix_up_laptops,
        make_title=rules.title_laptops,
    ),
    CategorySpec(
        slug="backpacks",
        name="Backpacks",
        noun="Backpack",
        brands=(
            BrandSpec("Summit Ridge", "premium", 1.5, 0.86),
            BrandSpec("Fjellpack", "premium", 1.6, 0.82, 0.7),
            BrandSpec("Packwell", "mid", 1.0, 0.66, 1.2),
            BrandSpec("Urbanite", "mid", 0.95, 0.62),
            BrandSpec("Trailhawk", "budget", 0.7, 0.52),
            _house(),
        ),
        attributes=(
            _int("volume_l", "Volume", "L", None, 12, 70),
            _float("weight_kg", "Weight", "kg", "lower", 0.35, 2.4),
            _bool("waterproof", "Waterproof"),
            _bool("laptop_sleeve", "Laptop sleeve"),
            _bool("hip_belt", "Padded hip belt"),
            _int("warranty_years", "Warranty", "years", "higher", 1, 10),
        ),
        price_range=(18.0, 380.0),
        lines=("Daypack", "Commuter", "Trail", "Voyager", "Alpine", "Metro"),
        weight=2,
        make_title=rules.title_backpacks,
    ),
    CategorySpec(
        slug="office-chairs",
        name="Office Chairs",
        noun="Office Chair",
        brands=(
            BrandSpec("Ergonomica", "premium", 1.8, 0.88, 0.8),
            BrandSpec("Corbin & Hale", "premium", 1.5, 0.82, 0.7),
            BrandSpec("Seatwise", "mid", 1.0, 0.68, 1.2),
            BrandSpec("Tallis", "mid", 0.9, 0.6),
            BrandSpec("Flexo", "budget", 0.6, 0.42),
            _house(),
        ),
        attributes=(
            _choice("armrests", "Armrests", "higher", "fixed", "2D", "3D", "4D"),
            _bool("lumbar_support", "Adjustable lumbar support"),
            _bool("headrest", "Headrest"),
            _bool("mesh_back", "Mesh back", None),
            _int("max_load_kg", "Maximum load", "kg", "higher", 100, 180),
            _int("warranty_years", "Warranty", "years", "higher", 1, 12),
        ),
        price_range=(60.0, 1500.0),
        lines=("Posture", "Executive", "Task", "Aeron", "Contour", "Balance"),
        weight=2,
        make_title=rules.title_office_chairs,
    ),
    CategorySpec(
        slug="blenders",
        name="Blenders",
        noun="Blender",
        brands=(
            BrandSpec("Vortexa", "premium", 1.8, 0.87, 0.8),
            BrandSpec("Blendmaster", "mid", 1.1, 0.7, 1.2),
            BrandSpec("Nutrimix", "mid", 0.9, 0.62),
            BrandSpec("Kitchenry", "budget", 0.6, 0.45),
            BrandSpec("Cascade Home", "budget", 0.7, 0.5),
            _house(),
        ),
        attributes=(
            _int("wattage", "Motor power", "W", "higher", 250, 1800),
            _float("capacity_l", "Jar capacity", "L", None, 0.5, 2.2),
            _int("speeds", "Speed settings", None, "higher", 2, 12),
            _bool("personal_cups", "Personal to-go cups"),
            _bool("heating", "Heats soups"),
            _bool("dishwasher_safe", "Dishwasher-safe parts"),
        ),
        price_range=(18.0, 700.0),
        lines=("Pro", "Fusion", "Smoothie", "Cyclone", "Fresh", "Titan"),
        weight=2,
        make_title=rules.title_blenders,
    ),
    CategorySpec(
        slug="vacuum-cleaners",
        name="Vacuum Cleaners",
        noun="Vacuum Cleaner",
        brands=(
            BrandSpec("Cyclonix", "premium", 1.7, 0.86),
            BrandSpec("Aerovac", "premium", 1.4, 0.8, 0.8),
            BrandSpec("Dustal", "mid", 1.0, 0.66, 1.2),
            BrandSpec("Tidyhome", "mid", 0.85, 0.6),
            BrandSpec("Brisk", "budget", 0.6, 0.42),
            _house(),
        ),
        attributes=(
            _choice("type", "Type", None, "upright", "canister", "stick", "robot"),
            _bool("cordless", "Cordless"),
            _int("suction_pa", "Suction", "Pa", "higher", 4000, 26000),
            _int("noise_db", "Noise level", "dB", "lower", 55, 85),
            _bool("hepa_filter", "HEPA filter"),
            _float("weight_kg", "Weight", "kg", "lower", 1.4, 8.0),
        ),
        price_range=(40.0, 1100.0),
        lines=("Storm", "Swift", "Clean", "Orbit", "Turbo", "Whirl"),
        weight=2,
        fix_up=rules.fix_up_vacuum_cleaners,
        make_title=rules.title_vacuum_cleaners,
    ),
    CategorySpec(
        slug="monitors",
        name="Monitors",
        noun="Monitor",
        brands=(
            BrandSpec("Optiq", "premium", 1.6, 0.85),
            BrandSpec("Lumina Display", "premium", 1.4, 0.8),
            BrandSpec("Vantage View", "mid", 1.0, 0.68, 1.2),
            BrandSpec("Pixelcraft", "mid", 0.9, 0.62),
            BrandSpec("Clearline", "budget", 0.65, 0.45),
            _house(0.5, 0.6),
        ),
        attributes=(
            _float(
                "screen_in", "Screen size", "in", None, 21.5, 34.0, (21.5, 24.0, 27.0, 32.0, 34.0)
            ),
            _choice("resolution", "Resolution", "higher", "1920x1080", "2560x1440", "3840x2160"),
            _int(
                "refresh_hz", "Refresh rate", "Hz", "higher", 60, 240, (60, 75, 100, 144, 165, 240)
            ),
            _choice("panel", "Panel", "higher", "TN", "VA", "IPS", "OLED"),
            _bool("hdr", "HDR"),
            _bool("usb_c", "USB-C with power delivery"),
        ),
        price_range=(80.0, 1700.0),
        lines=("Vision", "Ultra", "Canvas", "Prime", "Horizon", "Spectra"),
        weight=2,
        make_title=rules.title_monitors,
    ),
    CategorySpec(
        slug="kids-toys",
        name="Kids' Toys",
        noun="Toy",
        brands=(
            BrandSpec("Brickwise", "premium", 1.6, 0.86, 1.1),
            BrandSpec("Wonderkin", "mid", 1.1, 0.72),
            BrandSpec("Tumble & Twig", "mid", 1.2, 0.75, 0.8),
            BrandSpec("Playmaker", "budget", 0.7, 0.5, 1.2),
            BrandSpec("Little Lark", "budget", 0.6, 0.45),
            _house(),
        ),
        attributes=(
            _choice(
                "toy_type",
                "Kind",
                None,
                "building set",
                "puzzle",
                "plush",
                "ride-on",
                "science kit",
                "doll house",
            ),
            _int("age_min", "Minimum age", "years", None, 1, 12),
            _int("pieces", "Pieces", None, "higher", 1, 1500),
            _bool("educational", "Educational (STEM)"),
            _bool("battery_powered", "Battery powered", None),
            _choice("material", "Material", "higher", "plastic", "fabric", "wood"),
        ),
        price_range=(7.0, 190.0),
        lines=("Discovery", "Adventure", "Builder", "Explorer", "Dream", "Spark"),
        weight=2,
        fix_up=rules.fix_up_kids_toys,
        make_title=rules.title_kids_toys,
    ),
    CategorySpec(
        slug="phone-cases",
        name="Phone Cases",
        noun="Phone Case",
        brands=(
            BrandSpec("Shieldcraft", "premium", 1.5, 0.84),
            BrandSpec("Cordova Leather", "premium", 1.8, 0.82, 0.6),
            BrandSpec("Armorline", "mid", 1.0, 0.68, 1.3),
            BrandSpec("Slimfit Co", "mid", 0.85, 0.6),
            BrandSpec("Gripform", "budget", 0.55, 0.4, 1.2),
            _house(),
        ),
        attributes=(
            _choice("phone_model", "Fits", None, "Aria 15", "Aria 15 Pro", "Nova S9", "Pixelon 8"),
            _choice("material", "Material", None, "silicone", "TPU", "polycarbonate", "leather"),
            _float("drop_protection_m", "Drop protection", "m", "higher", 1.0, 6.0),
            _float("thickness_mm", "Thickness", "mm", "lower", 0.8, 4.5),
            _bool("magnetic_charging", "Magnetic charging"),
            _bool("screen_protector", "Screen protector included"),
        ),
        price_range=(5.0, 95.0),
        lines=("Guard", "Slim", "Tough", "Clear", "Classic", "Rugged"),
        weight=3,
        make_title=rules.title_phone_cases,
    ),
)

_BY_SLUG: dict[str, CategorySpec] = {spec.slug: spec for spec in CATEGORIES}
CATEGORY_SLUGS: tuple[str, ...] = tuple(_BY_SLUG)


def category_spec(slug: str) -> CategorySpec:
    """The spec of the category `slug`; a ValueError naming the valid slugs otherwise."""
    try:
        return _BY_SLUG[slug]
    except KeyError:
        raise ValueError(
            f"unknown category {slug!r}; valid categories: {', '.join(CATEGORY_SLUGS)}"
        ) from None


def attribute_specs(slug: str) -> tuple[AttributeSpec, ...]:
    """The attribute schema of the category `slug`."""
    return category_spec(slug).attributes


def brand_spec(slug: str, brand: str) -> BrandSpec:
    """The spec of `brand` in the category `slug`."""
    for candidate in category_spec(slug).brands:
        if candidate.name == brand:
            return candidate
    raise ValueError(f"no brand {brand!r} in category {slug!r}")
