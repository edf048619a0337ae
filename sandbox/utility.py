"""The ground truth: how much a persona would value a product, from its hidden profile."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from marketplace.catalog.models import Product
from marketplace.catalog.taxonomy import AttributeSpec, category_spec
from sandbox.persona import AttributePreference, PreferenceProfile


@dataclass(frozen=True)
class ProductTraits:
    """A product as a shopper weighs it (brand, price, rating, attributes): what `utility` scores.

    Built from an API item or a table row; the harness's own view, apart from the platform's.
    """

    id: int
    category: str
    brand: str
    price: float
    rating: float
    review_count: int
    attributes: Mapping[str, Any]

    @classmethod
    def of(cls, product: ProductTraits | Mapping[str, Any]) -> ProductTraits:
        """Accept an API product (as JSON) or facts already built."""
        if isinstance(product, ProductTraits):
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
    def from_row(cls, product: Product, category_slug: str) -> ProductTraits:
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


def utility(profile: PreferenceProfile, product: ProductTraits | Mapping[str, Any]) -> float:
    """How much the persona would value this product: the ground truth.

    attribute fit (0..1) + quality_sensitivity x perceived quality (0..1)
    - price penalty (price against the persona's budget, steeper above it)
    + brand loyalty bonus - brand aversion malus.
    """
    facts = ProductTraits.of(product)
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
    profile: PreferenceProfile, products: Sequence[ProductTraits | Mapping[str, Any]]
) -> list[ProductTraits]:
    """Products from the persona's favourite to least favourite (ties broken by id)."""
    facts = [ProductTraits.of(p) for p in products]
    return sorted(facts, key=lambda f: (-utility(profile, f), f.id))


__all__ = [
    "ProductTraits",
    "attribute_fit",
    "default_budget",
    "perceived_quality",
    "rank",
    "utility",
]
