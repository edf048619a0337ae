"""Catalog endpoints: search, product details and categories."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Path, Query

from marketplace.accounts.deps import ShopperDep
from marketplace.catalog import service
from marketplace.catalog.deps import ProductIndexDep, WriteQueueDep
from marketplace.catalog.schemas import CategoryList, ProductDetail, SearchPage, SearchParams
from marketplace.core.deps import (
    DatabaseDep,
    NowDep,
    ReadSessionDep,
    SessionDep,
    VisitorClassDep,
)

router = APIRouter(prefix="/api/v1", tags=["catalog"])

ProductId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The product's id.")]


@router.get(
    "/products",
    response_model=SearchPage,
    summary="Search and browse products",
    description="Ranked full-text search over titles, brands and descriptions (every word must "
    "match; search-syntax characters are ignored), with filters for category, price and "
    "rating, a choice of sort and pagination. Relevance is BM25 (title, brand, description "
    "weighted 10, 4, 1; English stems), ties going to the most reviewed. Without `q` it "
    "lists products, most reviewed first.\n\nSponsored products (ads) fill marked slots, "
    'positions 1 and 4 of each page, with `"sponsored": true`; they come in addition to the '
    "`page_size` organic results, and `total` counts organic matches only. With words, the "
    "ads are the best bids among the 300 most relevant matches that pass the filters, "
    "whatever the order of the page. `total` is exact. Every ad served is recorded as an "
    "impression for the visitor, and every search is recorded in the caller's history.",
    responses={422: {"description": "A parameter is invalid (e.g. an unknown category)."}},
)
def search_products(
    params: Annotated[SearchParams, Query()],
    session: ReadSessionDep,
    queue: WriteQueueDep,
    shopper: ShopperDep,
    visitor_class: VisitorClassDep,
    now: NowDep,
    index: ProductIndexDep,
) -> SearchPage:
    # Read without the write lock; the search and its ad impressions are queued.
    return service.search_products(
        session, index, params, shopper=shopper, visitor_class=visitor_class, now=now, queue=queue
    )


@router.get(
    "/products/{product_id}",
    response_model=ProductDetail,
    summary="One product's details",
    description="Price, stock, brand, category, seller, rating, review count, description and "
    "the category's attributes (`attributes` by key, `specifications` with labels and units). "
    "The view is recorded in the caller's history.",
    responses={404: {"description": "No product has this id."}},
)
async def get_product(
    product_id: ProductId, database: DatabaseDep, shopper: ShopperDep, now: NowDep
) -> ProductDetail:
    # A read that never waits for the write lock, and a view queued rather than written here:
    # product pages are most of the traffic and need no transaction of their own.
    detail = await database.read(partial(service.read_product_detail, product_id=product_id))
    service.record_view(database.write_behind, detail.id, detail.category, shopper=shopper, now=now)
    return detail


@router.get(
    "/categories",
    response_model=CategoryList,
    summary="List categories",
    description="Every category with its slug (for `?category=` in searches), its name and "
    "how many products it holds.",
)
def list_categories(session: SessionDep) -> CategoryList:
    items = service.list_categories(session)
    return CategoryList(items=items, total=len(items), page=1, page_size=max(len(items), 1))
