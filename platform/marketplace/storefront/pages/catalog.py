"""Catalog pages: the home page, search results and a product's page."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from marketplace.accounts.deps import Shopper, ShopperDep
from marketplace.catalog.adids import IdSource
from marketplace.catalog.deps import (
    ImpressionIdsDep,
    ProductIndexDep,
    SponsoredSlatesDep,
    WriteQueueDep,
)
from marketplace.core.db import Database
from marketplace.core.deps import (
    DatabaseDep,
    NowDep,
    ReadSessionDep,
    ReadTurnDep,
    SettingsDep,
    VisitorClassDep,
)
from marketplace.decide.deps import DecideConfigDep
from marketplace.storefront import views
from marketplace.storefront.pages.params import ProductIdPath
from marketplace.storefront.rendering import StorefrontRoute, render

router = APIRouter(route_class=StorefrontRoute, include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(
    request: Request,
    shopper: ShopperDep,
    session: ReadSessionDep,
    queue: WriteQueueDep,
    settings: SettingsDep,
    visitor_class: VisitorClassDep,
    now: NowDep,
    index: ProductIndexDep,
) -> Response:
    page = views.home_page(
        session, index, shopper=shopper, visitor_class=visitor_class, now=now, queue=queue
    )
    return render(request, "home.html", settings=settings, shopper=shopper, session=session, **page)


@router.get("/search", response_class=HTMLResponse)
def search(
    request: Request,
    shopper: ShopperDep,
    session: ReadSessionDep,
    queue: WriteQueueDep,
    settings: SettingsDep,
    visitor_class: VisitorClassDep,
    now: NowDep,
    index: ProductIndexDep,
    q: Annotated[str, Query(max_length=200)] = "",
    category: Annotated[str, Query(max_length=64)] = "",
    min_price: Annotated[str, Query(max_length=20)] = "",
    max_price: Annotated[str, Query(max_length=20)] = "",
    min_rating: Annotated[str, Query(max_length=10)] = "",
    sort: Annotated[str, Query(max_length=20)] = "",
    page: Annotated[str, Query(max_length=10)] = "1",
) -> Response:
    # Query values arrive as text because an empty box in a GET form sends "": a typo in a
    # filter is explained on the page rather than turned into an error page.
    form = {
        "q": q,
        "category": category,
        "min_price": min_price,
        "max_price": max_price,
        "min_rating": min_rating,
        "sort": sort,
        "page": page,
    }
    # Read without the write lock; the search and its ad impressions are queued.
    result = views.search_page(
        session, index, form, shopper=shopper, visitor_class=visitor_class, now=now, queue=queue
    )
    return render(
        request, "search.html", settings=settings, shopper=shopper, session=session, **result
    )


@router.get("/products/{product_id}", response_class=HTMLResponse)
async def product_page(
    product_id: ProductIdPath,
    request: Request,
    shopper: ShopperDep,
    database: DatabaseDep,
    _turn: ReadTurnDep,
    impression_ids: ImpressionIdsDep,
    slates: SponsoredSlatesDep,
    settings: SettingsDep,
    config: DecideConfigDep,
    visitor_class: VisitorClassDep,
    now: NowDep,
    ad: Annotated[
        int | None,
        Query(ge=1, le=2**63 - 1, description="The ad impression this visit clicked."),
    ] = None,
) -> Response:
    # The page only reads, on a reader (no write lock), and queues what it records: the view,
    # the impressions of the ads beside it. So, like the JSON product page, it is served through
    # `Database.read`: on SQLite right on the event loop, saving the worker thread's hops.
    # Only a visit through an ad's link writes in the request: the click, once per impression,
    # in a transaction of its own, in a worker thread.
    if ad is not None:
        await run_in_threadpool(
            _record_ad_click, database, product_id, ad, shopper, visitor_class, now
        )

    def page(ids: IdSource, connection: Connection) -> Response:
        with Session(bind=connection, expire_on_commit=False) as session:
            shown = views.product_page(
                session,
                product_id,
                shopper=shopper,
                now=now,
                config=config,
                visitor_class=visitor_class,
                write_behind=database.write_behind,
                impression_ids=ids,
                slates=slates,
            )
            return render(
                request,
                "product.html",
                settings=settings,
                shopper=shopper,
                session=session,
                **shown,
            )

    on_hand = impression_ids.take_on_hand(views.PRODUCT_PAGE_AD_SLOTS)
    if on_hand is not None:
        return await database.read(partial(page, on_hand))
    # The ads' ids may need a block reserved first, a write: not on the event loop.
    return await run_in_threadpool(database.on_reader, partial(page, impression_ids))


def _record_ad_click(
    database: Database,
    product_id: int,
    ad: int,
    shopper: Shopper,
    visitor_class: str,
    now: datetime,
) -> None:
    with database.session() as writer:
        views.record_ad_click(
            writer, product_id, ad, shopper=shopper, visitor_class=visitor_class, now=now
        )
