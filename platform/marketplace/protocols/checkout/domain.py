"""What the checkout core takes and gives: plain typed values, no HTTP and no protocol shapes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from marketplace.core.errors import ProblemError
from marketplace.protocols.checkout.pricing import AppliedDiscount, ShippingOption

CHANNELS = ("ucp", "mcp", "acp")

# Statuses of a session (the UCP names; ACP's are mapped by its adapter).
INCOMPLETE = "incomplete"
READY = "ready_for_complete"
COMPLETED = "completed"
CANCELED = "canceled"
OPEN_STATUSES = (INCOMPLETE, READY)


class CheckoutNotFound(ProblemError):
    status = 404
    type_slug = "protocol-checkout-not-found"
    title = "Checkout session not found"


class CheckoutClosed(ProblemError):
    status = 409
    type_slug = "protocol-checkout-closed"
    title = "Checkout session is closed"


class InvalidCheckout(ProblemError):
    status = 400
    type_slug = "protocol-checkout-invalid"
    title = "Invalid checkout"


class InsufficientStock(ProblemError):
    status = 400
    type_slug = "protocol-insufficient-stock"
    title = "Insufficient stock"


class ItemNotFound(ProblemError):
    status = 400
    type_slug = "protocol-item-not-found"
    title = "Item not found"


class PaymentDeclined(ProblemError):
    status = 402
    type_slug = "protocol-payment-declined"
    title = "Payment declined"


class OrderNotFound(ProblemError):
    status = 404
    type_slug = "protocol-order-not-found"
    title = "Order not found"


@dataclass(frozen=True)
class LineItemInput:
    """One line the agent asks for: a catalog item (its SKU or product id) and a quantity."""

    item_id: str
    quantity: int
    id: str | None = None  # the line's id when the agent updates an existing line


@dataclass(frozen=True)
class MethodInput:
    """A fulfillment method as the agent sends it; fields it leaves out keep their values."""

    type: str = "shipping"
    id: str | None = None
    # None: keep the method's destinations (a shipping method of a known buyer gets theirs).
    destinations: list[dict[str, Any]] | None = None
    select_destination: bool = False  # True when `selected_destination_id` was sent
    selected_destination_id: str | None = None
    # One entry per group, in order; None: keep the groups' selections.
    selected_option_ids: list[str | None] | None = None


@dataclass(frozen=True)
class PaymentInput:
    """The payment part of a session: the instrument the agent selected, and those it offered."""

    selected_instrument_id: str | None = None
    instruments: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class CheckoutChanges:
    """An update; each field left None keeps its value."""

    currency: str | None = None
    line_items: list[LineItemInput] | None = None
    buyer: dict[str, Any] | None = None
    fulfillment: list[MethodInput] | None = None
    discount_codes: list[str] | None = None
    payment: PaymentInput | None = None


@dataclass(frozen=True)
class PaymentSubmission:
    """What completes a session: an instrument of a payment handler and its credential.

    `card_number` (a raw card credential) is only checked by the mock handler, never stored.
    """

    handler_id: str
    instrument_id: str | None = None
    brand: str | None = None
    last_digits: str | None = None
    credential_type: str | None = None
    token: str | None = None
    card_number: str | None = None


@dataclass(frozen=True)
class LineView:
    id: str
    item_id: str
    product_id: int
    title: str
    unit_price: int
    quantity: int
    image_url: str | None

    @property
    def subtotal(self) -> int:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class MethodView:
    id: str
    type: str
    line_item_ids: list[str]
    destinations: list[dict[str, Any]] | None
    selected_destination_id: str | None
    group_id: str
    options: list[ShippingOption] | None  # None until a destination is selected
    selected_option_id: str | None

    @property
    def destination(self) -> dict[str, Any] | None:
        for destination in self.destinations or []:
            if destination.get("id") == self.selected_destination_id:
                return destination
        return None

    @property
    def option(self) -> ShippingOption | None:
        for option in self.options or []:
            if option.id == self.selected_option_id:
                return option
        return None


@dataclass(frozen=True)
class Totals:
    subtotal: int
    discount: int
    fulfillment: int | None  # None: no option selected yet

    @property
    def total(self) -> int:
        return self.subtotal - self.discount + (self.fulfillment or 0)


@dataclass(frozen=True)
class CheckoutView:
    """A session as every door shows it, prices computed from the catalog and the shop's rules."""

    id: str
    channel: str
    status: str
    currency: str
    lines: list[LineView]
    buyer: dict[str, Any] | None
    methods: list[MethodView] | None
    discount_codes: list[str]
    applied_discounts: list[AppliedDiscount]
    payment: PaymentInput
    totals: Totals
    agent_profile: str | None
    order_id: str | None  # the protocol order's public id, once completed
    created_at: datetime
    expires_at: datetime

    @property
    def fulfillment_ready(self) -> bool:
        return bool(self.methods) and all(
            m.destination is not None and m.option is not None for m in self.methods or []
        )


@dataclass(frozen=True)
class OrderView:
    id: str
    checkout_id: str
    channel: str
    marketplace_order_id: int
    status: str
    currency: str
    line_items: list[dict[str, Any]]
    totals: list[dict[str, Any]]
    expectations: list[dict[str, Any]]
    events: list[dict[str, Any]]
    adjustments: list[dict[str, Any]]
    agent_profile: str | None
    created_at: datetime
