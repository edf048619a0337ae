"""Catalog bodies: search parameters, result pages, product details and categories."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from marketplace.catalog.query import SortKey

MAX_PAGE_SIZE = 100
MAX_QUERY_CHARS = 200


class SearchParams(BaseModel):
    """What a shopper asks the catalog for; every field is optional."""

    # Unknown query parameters (tracking tags and the like) are ignored, not refused.
    model_config = ConfigDict(extra="ignore", frozen=True)

    q: str | None = Field(
        default=None,
        max_length=MAX_QUERY_CHARS,
        description="Words to look for in titles, brands and descriptions; all must match. "
        "Punctuation and search-syntax characters are ignored.",
    )
    category: str | None = Field(
        default=None, max_length=64, description="A category slug from GET /api/v1/categories."
    )
    min_price: float | None = Field(default=None, ge=0, description="Lowest price, inclusive.")
    max_price: float | None = Field(default=None, ge=0, description="Highest price, inclusive.")
    min_rating: float | None = Field(
        default=None, ge=0, le=5, description="Lowest average rating (0 to 5), inclusive."
    )
    sort: SortKey | None = Field(
        default=None,
        description="`relevance` (the default with `q`), `popularity` (the default without "
        "`q`: most reviewed first), `price_asc`, `price_desc`, `rating` or `newest`.",
    )
    page: int = Field(default=1, ge=1, le=100_000, description="1-based page number.")
    page_size: int = Field(
        default=20, ge=1, le=MAX_PAGE_SIZE, description=f"Results per page, 1 to {MAX_PAGE_SIZE}."
    )

    @property
    def effective_sort(self) -> SortKey:
        """The sort in force: the one asked for, else relevance with a query, else popularity."""
        if self.sort is not None:
            return self.sort
        return "relevance" if self.q and self.q.strip() else "popularity"

    def history_filters(self) -> dict[str, Any]:
        """The filters worth remembering in the shopper's history (only those that were set)."""
        filters: dict[str, Any] = {}
        for key in ("category", "min_price", "max_price", "min_rating", "sort"):
            value = getattr(self, key)
            if value is not None:
                filters[key] = value
        if self.page != 1:
            filters["page"] = self.page
        return filters


class ProductSummary(BaseModel):
    """One product in a result list."""

    id: int
    title: str
    brand: str
    category: str = Field(description="The category slug.")
    price: float
    rating: float = Field(description="Average rating, 1 to 5.")
    review_count: int
    stock: int
    in_stock: bool
    seller_type: str = Field(description="`platform` (sold by Nile) or `third-party`.")
    is_house_brand: bool = Field(description="True for Nile's own brand, Nile Basics.")
    sponsored: bool = Field(
        description="True for a paid placement (an ad); ads sit in marked slots and come in "
        "addition to the page's `page_size` organic results."
    )
    ad_click: str | None = Field(
        default=None,
        description="Sponsored items only: the product page's link for this ad "
        "(`/products/{id}?ad={impression}`). Opening it records a click on the ad; the "
        "advertiser pays its bid for clicks by people, never for automated ones.",
    )


class SearchPage(BaseModel):
    """One page of search results: organic results plus sponsored ones in marked slots."""

    items: list[ProductSummary]
    total: int = Field(description="Organic products matching the search, on all pages.")
    total_is_lower_bound: bool = Field(
        default=False,
        description="Always false: every search counts its matches exactly. Kept for clients "
        "of 0.1, where a search with words and filters in another order than relevance "
        "stopped counting at 1,000.",
    )
    page: int
    page_size: int
    sort: SortKey = Field(description="The sort in force.")
    query_terms: list[str] = Field(
        default_factory=list, description="The words that were searched for, after cleaning."
    )
    matched_all_words: bool = Field(
        default=True,
        description="False when no product had every word and results match any of them.",
    )


class Specification(BaseModel):
    """One attribute with its label and unit, ready to show."""

    key: str
    label: str
    value: bool | int | float | str | None
    unit: str | None = None


class ProductDetail(BaseModel):
    """Everything public about one product (cost and ad bids stay private)."""

    id: int
    sku: str
    title: str
    brand: str
    is_house_brand: bool
    category: str = Field(description="The category slug.")
    category_name: str
    price: float
    rating: float
    review_count: int
    stock: int
    in_stock: bool
    seller: str
    seller_type: str = Field(description="`platform` (sold by Nile) or `third-party`.")
    description: str
    attributes: dict[str, Any] = Field(description="Attribute values by key.")
    specifications: list[Specification] = Field(
        description="The attributes with labels and units, in the category's order."
    )


class CategoryOut(BaseModel):
    """A category and how many products it has."""

    slug: str
    name: str
    product_count: int


class CategoryList(BaseModel):
    """Every category, on one page."""

    items: list[CategoryOut]
    total: int
    page: int = 1
    page_size: int
