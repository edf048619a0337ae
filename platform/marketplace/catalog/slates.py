"""The sponsored products beside a product page, from a short-lived list of each category's
highest bidders.

Every product page of a category shows the same auction: its in-stock bidders, highest bid
first (ties by id), less the product itself. Bids and categories change only when the catalog
is seeded, stock changes with every order. So each worker keeps, per category, the ids of its
`depth` highest bidders whatever their stock, for `ttl_s` seconds, and every page reads the
current rows of just those ids (one primary-key statement) to keep the in-stock ones. When fewer
than the page's slots are in stock among them, the page runs the full auction instead
(`search.sponsored_ids`), so the ads shown are exactly those of the full auction either way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table, literal_column, select
from sqlalchemy.orm import Session

from marketplace.catalog import search
from marketplace.catalog.models import Product
from marketplace.catalog.query import ProductFilter
from marketplace.catalog.schemas import ProductSummary

DEPTH = 8
TTL_S = 10.0

_products: Table = Product.__table__  # type: ignore[assignment]
_bids = _products.c.sponsored_bid
_SUMMARY_COLUMNS = (
    _products.c.id,
    _products.c.title,
    _products.c.brand,
    _products.c.price,
    _products.c.rating,
    _products.c.review_count,
    _products.c.stock,
    _products.c.seller_type,
    _products.c.is_house_brand,
    _bids,
)

# (summary without the ad's link, bid) of one sponsored product
Slot = tuple[ProductSummary, float]


class SponsoredSlates:
    """Per category, the ids of its highest bidders, kept for `ttl_s` seconds."""

    def __init__(
        self,
        *,
        ttl_s: float = TTL_S,
        depth: int = DEPTH,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.depth = depth
        self._clock = clock
        self._bidders: dict[int, tuple[float, tuple[int, ...]]] = {}
        self._lock = threading.Lock()

    def beside(
        self,
        session: Session,
        *,
        product_id: int,
        category_id: int,
        category_slug: str,
        slots: int,
    ) -> list[Slot]:
        """The sponsored products for a page of `product_id`, best first (at most `slots`)."""
        bidders = self._top_bidders(session, category_id)
        rows = _rows(session, bidders)
        in_stock = [i for i in bidders if i in rows and rows[i].stock > 0 and i != product_id]
        chosen = [rows[i] for i in in_stock[:slots]]
        if len(chosen) < slots and len(bidders) >= self.depth:
            # Deeper bidders may be in stock: the full auction decides.
            flt = ProductFilter(category_id=category_id)
            auction = search.sponsored_ids(session, flt, limit=slots + 1)
            ids = [i for i in auction if i != product_id]
            rows = _rows(session, ids[:slots])
            chosen = [rows[i] for i in ids[:slots] if i in rows]
        return [(_summary(row, category_slug), float(row.sponsored_bid)) for row in chosen]

    def _top_bidders(self, session: Session, category_id: int) -> tuple[int, ...]:
        now = self._clock()
        with self._lock:
            kept = self._bidders.get(category_id)
        if kept is not None and now - kept[0] < self.ttl_s:
            return kept[1]
        ids = tuple(
            int(i)
            for i in session.scalars(
                select(_products.c.id)
                # A literal 0, as in `search.sponsored_ids`, so the partial index covers it.
                .where(_products.c.category_id == category_id, _bids > literal_column("0"))
                .order_by(_bids.desc(), _products.c.id.asc())
                .limit(self.depth)
            )
        )
        with self._lock:
            self._bidders[category_id] = (now, ids)
        return ids

    def clear(self) -> None:
        """Forget every list (the next page of each category reads its bidders again)."""
        with self._lock:
            self._bidders.clear()


def _rows(session: Session, ids: Sequence[int]) -> dict[int, Any]:
    if not ids:
        return {}
    result = session.execute(select(*_SUMMARY_COLUMNS).where(_products.c.id.in_(ids)))
    return {int(row.id): row for row in result}


def _summary(row: Any, category_slug: str) -> ProductSummary:
    return ProductSummary(
        id=row.id,
        title=row.title,
        brand=row.brand,
        category=category_slug,
        price=row.price,
        rating=row.rating,
        review_count=row.review_count,
        stock=row.stock,
        in_stock=row.stock > 0,
        seller_type=row.seller_type,
        is_house_brand=bool(row.is_house_brand),
        sponsored=True,
    )
