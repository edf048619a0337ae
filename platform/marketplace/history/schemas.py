"""History bodies: what a shopper sees of their own record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class HistoryEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str = Field(
        description="`search`, `view`, `cart_add`, `cart_update`, `cart_remove` or `purchase`."
    )
    created_at: datetime
    product_id: int | None = None
    category: str | None = Field(
        default=None, validation_alias="category_slug", description="Category slug."
    )
    query: str | None = Field(default=None, description="The search text (searches only).")
    filters: dict[str, Any] | None = Field(default=None, description="The search's filters.")
    quantity: int | None = Field(default=None, description="Units (cart changes, purchases).")
    order_id: int | None = Field(default=None, description="The order (purchases only).")


class HistoryPage(BaseModel):
    items: list[HistoryEventOut]
    total: int
    page: int
    page_size: int
