"""Plain value types Help Me Decide works on, so scoring is pure and testable without a database."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

AttrKind = Literal["bool", "int", "float", "choice"]
Better = Literal["higher", "lower"] | None


@dataclass(frozen=True)
class AttrSpec:
    """One attribute of a category, as the taxonomy describes it."""

    key: str
    label: str
    kind: AttrKind
    unit: str | None = None
    better: Better = None
    choices: tuple[str, ...] = ()

    @property
    def numeric(self) -> bool:
        return self.kind in ("int", "float")


@dataclass(frozen=True)
class ProductFacts:
    """What scoring needs to know about one product."""

    id: int
    title: str
    brand: str
    category: str
    price: float
    rating: float
    review_count: int
    stock: int
    attributes: Mapping[str, Any]
    is_house_brand: bool = False

    def number(self, key: str) -> float | None:
        return as_number(self.attributes.get(key))


def as_number(value: Any) -> float | None:
    """An attribute value as a number, or None (yes/no and text values are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


@dataclass(frozen=True)
class Interaction:
    """The shopper's own dealings with one product of the category."""

    product: ProductFacts
    views: int = 0
    carted: bool = False
    purchases: int = 0
    last_at: datetime | None = None

    @property
    def weight(self) -> float:
        # A purchase or a cart add reveals more than a glance; repeat views count a little extra.
        views = min(self.views, 4)
        return (
            (1.0 + 0.25 * max(views - 1, 0) if views else 0.0)
            + (2.0 if self.carted else 0.0)
            + 3.0 * min(self.purchases, 2)
        )


@dataclass(frozen=True)
class SearchSignal:
    """One of the shopper's searches (or the request typed to the assistant)."""

    query: str
    filters: Mapping[str, Any] = field(default_factory=dict)
    at: datetime | None = None


@dataclass(frozen=True)
class ShopperSignal:
    """Everything personal that Help Me Decide uses for one shopper and one category."""

    category: str
    interactions: tuple[Interaction, ...] = ()
    searches: tuple[SearchSignal, ...] = ()
    # Brands the shopper bought in any category: a weaker, cross-category brand signal.
    brands_bought: Mapping[str, int] = field(default_factory=dict)

    @property
    def viewed(self) -> tuple[ProductFacts, ...]:
        return tuple(i.product for i in self.interactions if i.views > 0)

    @property
    def product_ids(self) -> frozenset[int]:
        return frozenset(i.product.id for i in self.interactions)
