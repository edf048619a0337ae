"""What the store knows about you: the visitor's own history, as a page."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from marketplace.accounts.deps import ShopperDep
from marketplace.catalog import service as catalog
from marketplace.catalog.models import Product
from marketplace.core.deps import SessionDep, SettingsDep
from marketplace.history import service as history
from marketplace.history.models import HistoryEvent
from marketplace.storefront.rendering import StorefrontRoute, render

router = APIRouter(route_class=StorefrontRoute, include_in_schema=False)

HISTORY_PAGE_SIZE = 25


@dataclass(frozen=True)
class HistoryRow:
    """One recorded event as a sentence, with the product it concerns (when still listed)."""

    at: datetime
    kind: str
    text: str
    product_id: int | None


def history_row(event: HistoryEvent, product: Product | None) -> HistoryRow:
    title = product.title if product is not None else f"product {event.product_id}"
    quantity = event.quantity or 1
    if event.kind == "search":
        where = f" in {event.category_slug}" if event.category_slug else ""
        text = f"Searched for “{event.query or ''}”{where}"
    elif event.kind == "view":
        text = f"Looked at {title}"
    elif event.kind == "cart_add":
        text = f"Put {quantity} × {title} in the cart"
    elif event.kind == "cart_update":
        text = f"Changed {title} in the cart to {quantity}"
    elif event.kind == "cart_remove":
        text = f"Took {title} out of the cart"
    else:
        text = f"Bought {quantity} × {title} (order #{event.order_id})"
    return HistoryRow(at=event.created_at, kind=event.kind, text=text, product_id=event.product_id)


@router.get("/history", response_class=HTMLResponse)
def history_page(
    request: Request,
    shopper: ShopperDep,
    session: SessionDep,
    settings: SettingsDep,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    events, total = history.event_page(
        session,
        account_id=shopper.account_id,
        session_key=shopper.session_key,
        kind=None,
        page=page,
        page_size=HISTORY_PAGE_SIZE,
    )
    products = catalog.products_by_ids(
        session, {e.product_id for e in events if e.product_id is not None}
    )
    return render(
        request,
        "history.html",
        settings=settings,
        shopper=shopper,
        session=session,
        rows=[history_row(event, products.get(event.product_id or 0)) for event in events],
        total=total,
        page=page,
        pages=max(1, math.ceil(total / HISTORY_PAGE_SIZE)),
        page_link=lambda p: "/history?" + urlencode({"page": p}, quote_via=quote),
    )
