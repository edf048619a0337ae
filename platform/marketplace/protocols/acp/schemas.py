"""ACP's wire shapes (Agentic Commerce Protocol, API version 2025-09-29), written from its spec.

Requests are strict (an unknown member is a 400 naming it); money is an integer in minor units.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

API_VERSION = "2025-09-29"
SUPPORTED_VERSIONS = (API_VERSION,)
AcpStatus = Literal[
    "not_ready_for_payment", "ready_for_payment", "completed", "canceled", "in_progress"
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Item(_Strict):
    id: str = Field(min_length=1, max_length=64, description="A product id of the catalog.")
    quantity: int = Field(ge=1, le=1000)


class Address(_Strict):
    name: str = Field(min_length=1, max_length=200)
    line_one: str = Field(min_length=1, max_length=300)
    line_two: str | None = Field(default=None, max_length=300)
    city: str = Field(min_length=1, max_length=120)
    state: str = Field(min_length=1, max_length=120)
    country: str = Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2.")
    postal_code: str = Field(min_length=1, max_length=32)


class Buyer(_Strict):
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    phone_number: str | None = Field(default=None, max_length=32)


class CreateRequest(_Strict):
    items: list[Item] = Field(min_length=1, max_length=100)
    buyer: Buyer | None = None
    fulfillment_address: Address | None = None


class UpdateRequest(_Strict):
    items: list[Item] | None = Field(default=None, min_length=1, max_length=100)
    buyer: Buyer | None = None
    fulfillment_address: Address | None = None
    fulfillment_option_id: str | None = Field(default=None, max_length=64)


class PaymentData(_Strict):
    token: str = Field(
        min_length=1,
        max_length=255,
        description="A delegated payment token. The sandbox takes only simulated test tokens, "
        "`spt_test_...`; `spt_test_decline...` is declined.",
    )
    provider: Literal["stripe"] = "stripe"
    billing_address: Address | None = None


class CompleteRequest(_Strict):
    buyer: Buyer | None = None
    payment_data: PaymentData


class PaymentProvider(BaseModel):
    provider: Literal["stripe"] = "stripe"
    supported_payment_methods: list[str] = ["card"]


class LineItem(BaseModel):
    id: str
    item: Item
    base_amount: int
    discount: int
    subtotal: int
    tax: int
    total: int


class FulfillmentOption(BaseModel):
    type: Literal["shipping"] = "shipping"
    id: str
    title: str
    subtitle: str | None = None
    carrier: str | None = None
    subtotal: int
    tax: int
    total: int


class Total(BaseModel):
    type: Literal[
        "items_base_amount",
        "items_discount",
        "subtotal",
        "discount",
        "fulfillment",
        "tax",
        "fee",
        "total",
    ]
    display_text: str
    amount: int


class Message(BaseModel):
    type: Literal["info", "error"]
    code: str | None = None
    param: str | None = None
    content_type: Literal["plain", "markdown"] = "plain"
    content: str


class Link(BaseModel):
    type: Literal["terms_of_use", "privacy_policy", "seller_shop_policies"]
    url: str


class OrderRef(BaseModel):
    id: str
    checkout_session_id: str
    permalink_url: str


class CheckoutSession(BaseModel):
    """The authoritative state of a session, as every ACP endpoint answers it."""

    id: str
    buyer: Buyer | None = None
    payment_provider: PaymentProvider = PaymentProvider()
    status: AcpStatus
    currency: str
    line_items: list[LineItem]
    fulfillment_address: Address | None = None
    fulfillment_options: list[FulfillmentOption]
    fulfillment_option_id: str | None = None
    totals: list[Total]
    messages: list[Message]
    links: list[Link]
    order: OrderRef | None = None


class AcpError(BaseModel):
    """ACP's flat error object."""

    type: Literal["invalid_request", "request_not_idempotent", "processing_error",
                  "service_unavailable"]  # fmt: skip
    code: str
    message: str
    param: str | None = None
