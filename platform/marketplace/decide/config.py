"""Help Me Decide's knobs: the trigger, the scoring weights and the pick rules.

Read from `SANDBOX_DECIDE_*` environment variables (nested weights with `__`, e.g.
`SANDBOX_DECIDE_WEIGHTS__QUALITY=0.3`), so an educator can turn a knob without touching code.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ScoringWeights(BaseModel):
    """How much each factor (each scored 0..1) counts in a product's total score."""

    model_config = ConfigDict(extra="forbid")

    attribute_fit: float = Field(
        default=0.34, ge=0, description="Fit to the attributes of what the shopper viewed/bought."
    )
    search_match: float = Field(
        default=0.12, ge=0, description="Words of the shopper's recent searches in the product."
    )
    quality: float = Field(default=0.22, ge=0, description="Bayesian-average rating.")
    price_fit: float = Field(default=0.2, ge=0, description="Fit to the shopper's price band.")
    brand_affinity: float = Field(default=0.06, ge=0, description="Brands the shopper favours.")
    co_view: float = Field(
        default=0.03, ge=0, description="Item-to-item similarity from all shoppers' co-views."
    )
    availability: float = Field(default=0.03, ge=0, description="Enough stock to ship now.")
    interest: float = Field(
        default=0.1,
        ge=0,
        description="The shopper's own attention to the product: repeat views, a kept cart line.",
    )
    house_brand_boost: float = Field(
        default=0.0,
        ge=0,
        description="Self-preferencing: extra score for the platform's own brand (teaching knob).",
    )


class DecideConfig(BaseSettings):
    """Every knob of Help Me Decide."""

    model_config = SettingsConfigDict(
        env_prefix="SANDBOX_DECIDE_", env_nested_delimiter="__", extra="ignore"
    )

    min_viewed_products: int = Field(
        default=3, ge=1, description="Distinct products of one category to view before the offer."
    )
    trigger_window_hours: float = Field(
        default=72.0, gt=0, description="How recent those views must be."
    )
    history_window_days: float = Field(
        default=180.0, gt=0, description="How far back preferences are learned from."
    )
    weights: ScoringWeights = Field(default_factory=ScoringWeights)
    rating_prior_count: float = Field(
        default=40.0, ge=0, description="Pseudo-ratings at the category mean (Bayesian average)."
    )
    budget_max_price_ratio: float = Field(
        default=0.7, gt=0, lt=1, description="A budget pick costs at most this share of the top's."
    )
    budget_min_quality: float = Field(
        default=3.8, ge=1, le=5, description="Quality floor (Bayesian-average stars) for budget."
    )
    premium_max_price_ratio: float = Field(
        default=3.0, gt=1, description="An upgrade costs at most this multiple of the top pick."
    )
    max_candidates: int = Field(
        default=5000,
        ge=10,
        description="Category products scored at most (by review count, after the shopper's "
        "constraints).",
    )
    co_view_neighbours: int = Field(
        default=50, ge=0, description="Co-viewed products added to the candidates."
    )
    min_candidates_after_constraints: int = Field(
        default=3, ge=1, description="Below this, search-word constraints are relaxed."
    )
    low_stock: int = Field(default=5, ge=1, description="Stock below this counts as low.")
    snapshot_ttl_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How long a worker keeps its copy of a category's products at most; orders "
        "and new products are noticed at once, other catalog edits within this time. 0: read "
        "the category on every request.",
    )

    warm_categories: str = Field(
        default="",
        description="Categories (comma-separated slugs, or * for all) each worker reads into "
        "its copy as it starts, before it serves, so no shopper's first request pays for it.",
    )


def load_decide_config() -> DecideConfig:
    """The knobs the environment sets (`SANDBOX_DECIDE_*`); the app factory reads them once."""
    return DecideConfig()
