"""Product search: a query with words is answered by the search index (`catalog.text_index`),
the same on every database; a listing without words is SQL over the products table's indexes.

Also the bulk-load side of the index's change log: a load logs "the whole catalog changed" once
instead of a row per product.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Table,
    delete,
    func,
    insert,
    literal_column,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from marketplace.catalog.models import Product, ProductChange
from marketplace.catalog.query import Hits, ProductFilter, SortKey
from marketplace.catalog.text_index import ProductIndex

products: Table = Product.__table__  # type: ignore[assignment]
_changes: Table = ProductChange.__table__  # type: ignore[assignment]


def search_ids(
    session: Session,
    index: ProductIndex,
    flt: ProductFilter,
    *,
    sort: SortKey,
    limit: int,
    offset: int,
) -> Hits:
    """Ids of the matching products in `sort` order (ties broken by id), and the total."""
    if flt.terms:
        index.ensure_current(session.connection())
        return index.search(flt, sort=sort, limit=limit, offset=offset)
    conditions = _filters(flt)
    order = _order_by(sort)
    if flt.category_id is not None:
        # Equal for every row, so the order is the same; it leads the planner to the
        # category's own index for the sort (PostgreSQL otherwise may walk the sort's index
        # over the whole catalog, filtering, when the category sits far down it).
        order.insert(0, products.c.category_id)
    stmt = select(products.c.id).where(*conditions).order_by(*order)
    ids: list[int] = list(session.scalars(stmt.limit(limit).offset(offset)))
    if offset == 0 and len(ids) < limit:
        return Hits(ids=ids, total=len(ids))
    # Filters alone are counted by the composite indexes.
    total = int(session.scalar(select(func.count()).select_from(products).where(*conditions)) or 0)
    return Hits(ids=ids, total=max(total, offset + len(ids)))


def _filters(flt: ProductFilter) -> list[ColumnElement[bool]]:
    c = products.c
    filters: list[ColumnElement[bool]] = []
    if flt.category_id is not None:
        filters.append(c.category_id == flt.category_id)
    if flt.min_price is not None:
        filters.append(c.price >= flt.min_price)
    if flt.max_price is not None:
        filters.append(c.price <= flt.max_price)
    if flt.min_rating is not None:
        filters.append(c.rating >= flt.min_rating)
    return filters


def _order_by(sort: SortKey) -> list[ColumnElement[Any]]:
    """A listing's order; the search index packs the same orders into its sort keys."""
    c = products.c
    tail = [c.id.asc()]
    if sort == "price_asc":
        return [c.price.asc(), *tail]
    if sort == "price_desc":
        return [c.price.desc(), *tail]
    if sort == "rating":
        return [c.rating.desc(), c.review_count.desc(), *tail]
    if sort == "newest":
        return [c.created_at.desc(), *tail]
    # Popularity, also the order of "relevance" without words.
    return [c.review_count.desc(), c.rating.desc(), *tail]


def sponsored_ids(
    session: Session,
    flt: ProductFilter,
    *,
    limit: int,
    among: tuple[int, ...] | None = None,
) -> list[int]:
    """In-stock products with a bid that match `flt`, highest bid first.

    A query with words passes `among` (its `Hits.ranked`, best first): the auction is held
    among those matches, the most relevant ones, and ties in bid go to the more relevant.
    Without words every product that passes the filters takes part, ties going to the lower id.
    """
    bids = products.c.sponsored_bid
    # A literal 0, not a bound parameter, so SQLite sees that the partial index on bidders
    # (`WHERE sponsored_bid > 0`) covers the query.
    bidding = [bids > literal_column("0"), products.c.stock > 0]
    if among is not None:
        rank = {pid: n for n, pid in enumerate(among)}
        rows = session.execute(select(products.c.id, bids).where(products.c.id.in_(rank), *bidding))
        best = sorted(rows, key=lambda r: (-r[1], rank[r[0]]))
        return [int(r[0]) for r in best[:limit]]
    if flt.terms:
        raise ValueError("a search with words holds its auction among its ranked matches")
    stmt = select(products.c.id).where(*_filters(flt), *bidding)
    stmt = stmt.order_by(bids.desc(), products.c.id.asc()).limit(limit)
    return list(session.scalars(stmt))


# --- Bulk loading ---------------------------------------------------------------------------

_INSERT_TRIGGER = "product_changes_ai"


@contextmanager
def bulk_loading(connection: Connection) -> Iterator[None]:
    """Log a bulk load as one change, "the whole catalog", rather than one per product.

    The per-row insert trigger (migration 0015) is suspended for the load and re-created from
    its own stored definition, so the migration stays the one place that defines it. The load
    ends by replacing the log with one row under a new token: an index that sees it rebuilds.
    """
    dialect = connection.dialect.name
    if dialect == "sqlite":
        definition = connection.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?",
            (_INSERT_TRIGGER,),
        ).scalar()
        if definition:
            connection.exec_driver_sql(f"DROP TRIGGER {_INSERT_TRIGGER}")
    elif dialect == "postgresql":
        definition = connection.exec_driver_sql(
            "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgname = %(name)s",
            {"name": _INSERT_TRIGGER},
        ).scalar()
        if definition:
            connection.exec_driver_sql(f"DROP TRIGGER {_INSERT_TRIGGER} ON products")
    else:  # pragma: no cover - only the two supported databases
        definition = None
    yield
    if definition:
        connection.exec_driver_sql(str(definition))
    connection.execute(delete(_changes))
    connection.execute(insert(_changes).values(product_id=None, token=uuid.uuid4().hex))


def analyze(connection: Connection) -> None:
    """Refresh the query planner's statistics after a bulk load."""
    connection.exec_driver_sql("ANALYZE")


def vacuum(engine: Engine) -> None:
    """After a bulk load on PostgreSQL, mark the new rows visible to all in the visibility map,
    so counting a category is an index-only scan rather than a read of the whole table (what
    autovacuum would do later). Runs outside any transaction, as VACUUM must."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM products")


__all__ = ["analyze", "bulk_loading", "search_ids", "sponsored_ids"]
