"""Prices of a checkout: line totals, discount codes, shipping options and the grand total.

Everything is an integer in the currency's minor unit. Percentage codes apply one after the
other, each to what the previous ones left (10% then 20% off 35.00 is 25.20), rounding down.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from marketplace.protocols.checkout.models import (
    ProtocolDiscount,
    ProtocolPromotion,
    ProtocolShippingRate,
)

# Offered when the shop has no shipping rates of its own (the default store, before any fixture).
DEFAULT_RATE = ProtocolShippingRate(
    id="standard", country_code="default", service_level="standard", price=0, title="Standard"
)


@dataclass(frozen=True)
class AppliedDiscount:
    code: str
    title: str
    amount: int


@dataclass(frozen=True)
class ShippingOption:
    id: str
    title: str
    amount: int
    service_level: str


@dataclass(frozen=True)
class PricedLine:
    item_id: str
    unit_price: int
    quantity: int

    @property
    def subtotal(self) -> int:
        return self.unit_price * self.quantity


def apply_discounts(
    subtotal: int, codes: Sequence[str], known: dict[str, ProtocolDiscount]
) -> list[AppliedDiscount]:
    """The codes that apply, in the order sent; unknown and repeated codes are skipped."""
    applied: list[AppliedDiscount] = []
    left = subtotal
    for code in dict.fromkeys(codes):
        discount = known.get(code)
        if discount is None:
            continue
        if discount.kind == "percentage":
            after = left * (100 - min(max(discount.value, 0), 100)) // 100
        else:
            after = max(0, left - max(discount.value, 0))
        applied.append(
            AppliedDiscount(code=code, title=discount.description or code, amount=left - after)
        )
        left = after
    return applied


def free_shipping(
    subtotal: int, item_ids: Iterable[str], promotions: Iterable[ProtocolPromotion]
) -> bool:
    """True when a free-shipping promotion covers this cart (by its subtotal or an item in it)."""
    items = set(item_ids)
    for promotion in promotions:
        if promotion.kind != "free_shipping":
            continue
        if promotion.min_subtotal is not None and subtotal >= promotion.min_subtotal:
            return True
        if promotion.eligible_item_ids and items & set(promotion.eligible_item_ids):
            return True
    return False


def shipping_options(
    country: str | None,
    rates: Sequence[ProtocolShippingRate],
    *,
    free_standard: bool,
) -> list[ShippingOption]:
    """The options for a destination: its country's rates, and `default` rates for the service
    levels the country has none of; cheapest first. Free shipping covers the standard level."""
    rates = rates or [DEFAULT_RATE]
    country = (country or "").upper()
    own = [rate for rate in rates if rate.country_code.upper() == country]
    levels = {rate.service_level for rate in own}
    chosen = own + [
        rate
        for rate in rates
        if rate.country_code == "default" and rate.service_level not in levels
    ]
    options = []
    for rate in chosen:
        free = free_standard and rate.service_level == "standard"
        options.append(
            ShippingOption(
                id=rate.id,
                title=f"{rate.title} (Free)" if free and rate.price else rate.title,
                amount=0 if free else rate.price,
                service_level=rate.service_level,
            )
        )
    return sorted(options, key=lambda option: (option.amount, option.id))
