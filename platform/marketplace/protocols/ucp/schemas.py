"""UCP request bodies (REST binding, version 2026-01-11), read leniently where the protocol is.

Agents echo whole response objects back in updates (groups with their options, handlers with
their configs), so unknown members are accepted and ignored; what the store acts on is typed.
Order updates are strict: an adjustment's status or a list sent as an object is a 422.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AnyUrl, AwareDatetime, BaseModel, ConfigDict, Field

from marketplace.protocols.checkout.domain import (
    CheckoutChanges,
    LineItemInput,
    MethodInput,
    PaymentInput,
    PaymentSubmission,
)


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")


class ItemRef(_Lenient):
    id: str = Field(min_length=1, max_length=64, description="The item's id: a catalog SKU.")
    title: str | None = Field(default=None, description="Ignored: the catalog's title is used.")


class LineItemReq(_Lenient):
    id: str | None = Field(default=None, max_length=64)
    item: ItemRef
    quantity: int = Field(ge=1, le=100_000)

    def to_input(self) -> LineItemInput:
        return LineItemInput(item_id=self.item.id, quantity=self.quantity, id=self.id)


class GroupReq(_Lenient):
    id: str | None = None
    selected_option_id: str | None = Field(default=None, max_length=64)


class MethodReq(_Lenient):
    id: str | None = Field(default=None, max_length=64)
    type: Literal["shipping", "pickup"] = "shipping"
    destinations: list[dict[str, Any]] | None = Field(default=None, max_length=20)
    selected_destination_id: str | None = Field(default=None, max_length=64)
    groups: list[GroupReq] | None = Field(default=None, max_length=20)

    def to_input(self) -> MethodInput:
        return MethodInput(
            type=self.type,
            id=self.id,
            destinations=self.destinations,
            select_destination="selected_destination_id" in self.model_fields_set,
            selected_destination_id=self.selected_destination_id,
            selected_option_ids=(
                [g.selected_option_id for g in self.groups if g.selected_option_id] or None
                if self.groups
                else None
            ),
        )


class FulfillmentReq(_Lenient):
    methods: list[MethodReq] = Field(default_factory=list, max_length=10)


class DiscountsReq(_Lenient):
    codes: list[str] = Field(default_factory=list, max_length=20)


class PaymentReq(_Lenient):
    selected_instrument_id: str | None = Field(default=None, max_length=64)
    instruments: list[dict[str, Any]] | None = Field(default=None, max_length=10)

    def to_input(self) -> PaymentInput:
        return PaymentInput(
            selected_instrument_id=self.selected_instrument_id,
            # A credential (a token, or a card number) is used at completion, never kept.
            instruments=[
                {k: v for k, v in instrument.items() if k != "credential"}
                for instrument in self.instruments or []
            ],
        )


class CheckoutCreateReq(_Lenient):
    currency: str = Field(min_length=3, max_length=3, description="ISO 4217; the store's.")
    line_items: list[LineItemReq] = Field(min_length=1, max_length=100)
    buyer: dict[str, Any] | None = None
    fulfillment: FulfillmentReq | None = None
    discounts: DiscountsReq | None = None
    payment: PaymentReq | None = None


class CheckoutUpdateReq(_Lenient):
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    line_items: list[LineItemReq] | None = Field(default=None, min_length=1, max_length=100)
    buyer: dict[str, Any] | None = None
    fulfillment: FulfillmentReq | None = None
    discounts: DiscountsReq | None = None
    payment: PaymentReq | None = None

    def to_changes(self) -> CheckoutChanges:
        return CheckoutChanges(
            currency=self.currency,
            line_items=[li.to_input() for li in self.line_items] if self.line_items else None,
            buyer=self.buyer,
            fulfillment=(
                [m.to_input() for m in self.fulfillment.methods] if self.fulfillment else None
            ),
            discount_codes=self.discounts.codes if self.discounts is not None else None,
            payment=self.payment.to_input() if self.payment is not None else None,
        )


class PaymentData(_Lenient):
    id: str | None = Field(default=None, max_length=64)
    handler_id: str = Field(min_length=1, max_length=64)
    type: str | None = None
    brand: str | None = Field(default=None, max_length=32)
    last_digits: str | None = Field(default=None, max_length=4)
    credential: dict[str, Any] | None = None

    def to_submission(self) -> PaymentSubmission:
        credential = self.credential or {}
        kind = credential.get("type")
        number = credential.get("number") if kind == "card" else None
        token = credential.get("token")
        return PaymentSubmission(
            handler_id=self.handler_id,
            instrument_id=self.id,
            brand=self.brand,
            last_digits=self.last_digits,
            credential_type=kind if isinstance(kind, str) else None,
            token=token if isinstance(token, str) else None,
            card_number=str(number) if number is not None else None,
        )


class CompleteReq(_Lenient):
    payment_data: PaymentData
    risk_signals: dict[str, Any] | None = None


class OrderLineRef(BaseModel):
    id: str = Field(max_length=64)
    quantity: int = Field(ge=1)


class FulfillmentEventReq(_Lenient):
    id: str = Field(max_length=100)
    occurred_at: AwareDatetime
    type: str = Field(max_length=32)
    line_items: list[OrderLineRef]
    tracking_number: str | None = Field(default=None, max_length=100)
    tracking_url: AnyUrl | None = None
    carrier: str | None = Field(default=None, max_length=100)
    description: str | None = Field(default=None, max_length=500)


class AdjustmentReq(_Lenient):
    id: str = Field(max_length=100)
    type: str = Field(max_length=32)
    occurred_at: AwareDatetime
    status: Literal["pending", "completed", "failed"]
    line_items: list[OrderLineRef] | None = None
    amount: int | None = Field(default=None, ge=0)
    description: str | None = Field(default=None, max_length=500)


class OrderFulfillmentReq(_Lenient):
    events: list[FulfillmentEventReq] | None = Field(default=None, max_length=100)


class OrderUpdateReq(_Lenient):
    """The order as the agent (or the business's systems) sends it back with changes; the store
    keeps the fulfillment events and the adjustments, and ignores the rest."""

    fulfillment: OrderFulfillmentReq | None = None
    adjustments: list[AdjustmentReq] | None = Field(default=None, max_length=100)


def dump_events(req: OrderUpdateReq) -> list[dict[str, Any]] | None:
    if req.fulfillment is None or req.fulfillment.events is None:
        return None
    return [e.model_dump(mode="json", exclude_none=True) for e in req.fulfillment.events]


def dump_adjustments(req: OrderUpdateReq) -> list[dict[str, Any]] | None:
    if req.adjustments is None:
        return None
    return [a.model_dump(mode="json", exclude_none=True) for a in req.adjustments]


def iso(moment: datetime) -> str:
    """RFC 3339 with a `Z`, as the protocol's examples write it."""
    return moment.isoformat().replace("+00:00", "Z")
