"""Order bodies. No card number is ever accepted, stored or returned."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

# 12-19 digits, optionally grouped by spaces or dashes: the shape of a payment card number.
_CARD_NUMBER = re.compile(r"(?:\d[ -]?){11,18}\d")


def _looks_like_card_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        value = str(value)
    return isinstance(value, str) and _CARD_NUMBER.search(value) is not None


class PaymentIn(BaseModel):
    """A mock payment; send at most the last four digits of a card, never the number."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["mock-card", "mock-wallet"] = Field(
        default="mock-card", description="The mock payment method; nothing is charged."
    )
    card_last4: str | None = Field(
        default=None,
        pattern=r"^\d{4}$",
        description="Optional last four digits of the card, shown on the order.",
    )

    @model_validator(mode="before")
    @classmethod
    def _refuse_card_numbers(cls, data: Any) -> Any:
        # Checked before the unknown-field check so a `card_number` field gets the clear
        # reason, not a generic "extra field" message.
        if isinstance(data, dict):
            for field, value in data.items():
                if _looks_like_card_number(value):
                    raise PydanticCustomError(
                        "card_number_refused",
                        "'{field}' looks like a full card number; this store never accepts "
                        "one. Send only 'card_last4' (four digits) or nothing",
                        {"field": str(field)},
                    )
        return data


class OrderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payment: PaymentIn = Field(
        default_factory=PaymentIn, description="Defaults to a mock card payment."
    )


class PaymentOut(BaseModel):
    method: str
    card_last4: str | None
    reference: str = Field(description="The mock payment's reference.")


class OrderLineOut(BaseModel):
    product_id: int
    title: str
    unit_price: float = Field(description="The price paid per unit.")
    quantity: int
    line_total: float


class OrderOut(BaseModel):
    id: int
    status: str
    total: float
    channel: str = Field(description="Who placed it, as the policy gate classified the caller.")
    created_at: datetime
    payment: PaymentOut
    items: list[OrderLineOut]
    item_count: int


class OrderPage(BaseModel):
    items: list[OrderOut]
    total: int
    page: int
    page_size: int
