"""Cart bodies."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MAX_LINE_QUANTITY = 99


class CartItemAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: int = Field(
        ge=1, le=2**63 - 1, description="The product to add (an id from /api/v1/products)."
    )
    quantity: int = Field(
        default=1,
        ge=1,
        le=MAX_LINE_QUANTITY,
        description="How many to add; added to what the cart already holds of this product.",
    )


class CartItemUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quantity: int = Field(
        ge=1,
        le=MAX_LINE_QUANTITY,
        description="The new quantity of this line; remove the line with DELETE instead of 0.",
    )


class CartLineOut(BaseModel):
    product_id: int
    title: str
    brand: str
    category: str = Field(description="The product's category slug.")
    price: float = Field(description="Current unit price.")
    quantity: int
    line_total: float
    stock: int = Field(description="Units left in stock right now.")
    in_stock: bool = Field(description="True when the stock covers this line's quantity.")


class CartOut(BaseModel):
    items: list[CartLineOut]
    total: float = Field(description="Sum of the line totals at current prices.")
    item_count: int = Field(description="Units in the cart, over all lines.")
