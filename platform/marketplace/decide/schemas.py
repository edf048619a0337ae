"""Help Me Decide's HTTP bodies: the response shape is a contract agent developers rely on."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class DecideRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: str | None = Field(
        default=None,
        max_length=64,
        description="A category slug; default: the category that triggered the offer.",
        examples=["headphones"],
    )


class PickProduct(BaseModel):
    id: int
    title: str
    price: float
    rating: float
    review_count: int
    brand: str
    category: str
    stock: int
    attributes: dict[str, Any]
    url: str = Field(description="The product page.")


class Evidence(BaseModel):
    """The data one reason was written from; every number in `text` comes from `data`."""

    kind: str
    text: str
    data: dict[str, Any]


class Pick(BaseModel):
    product: PickProduct
    reasons: list[str] = Field(description="Two to four concrete, checkable reasons.")
    factors: dict[str, float] = Field(
        description="Factor scores (0..1) behind the pick and their weighted `total`."
    )
    evidence: list[Evidence] = Field(description="The reasons with the data behind them.")


class RecommendationOut(BaseModel):
    category: str
    category_name: str
    top_pick: Pick
    budget_pick: Pick | None
    premium_pick: Pick | None
    notes: list[str] = Field(
        description="Why a pick is missing, which constraints applied or were relaxed."
    )
    summary: str = Field(description="A short paragraph written from the reasons only.")
    constraints: list[str] = Field(description="Hard constraints taken from your searches.")
    compared: int = Field(description="In-stock products scored.")
    weights: dict[str, float] = Field(description="The scoring weights in force.")


class OfferOut(BaseModel):
    offered: bool
    category: str | None = Field(description="The category Help Me Decide would decide on.")
    viewed: int = Field(description="Distinct products of that category viewed in the window.")
    needed: int = Field(description="Distinct products of one category to view first.")
    window_hours: float
    viewed_by_category: dict[str, int]
    message: str


class AssistantMessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(
        min_length=1,
        max_length=1000,
        description="What the shopper says.",
        examples=["help me choose headphones under $200"],
    )
    conversation_id: str = Field(
        default="default",
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="Keeps the context between messages (per shopper); omit for one ongoing "
        "conversation.",
    )


class ActionOut(BaseModel):
    tool: str = Field(
        description="`search_catalog`, `my_history`, `help_me_decide` or `add_to_cart`."
    )
    args: dict[str, Any]
    result: str = Field(description="What the tool returned (JSON text).")


class AssistantReplyOut(BaseModel):
    conversation_id: str
    reply: str
    actions: list[ActionOut] = Field(description="The tools the assistant used, in order.")
    recommendation: RecommendationOut | None = Field(
        description="The Help Me Decide answer, when this turn asked for one."
    )
    cart: dict[str, Any] | None = Field(description="The cart, when this turn changed it.")
    model: str = Field(description="`scripted` or the `provider:model` in use.")
