"""The shopper's own signal: their searches, views, cart changes and purchases, and nobody else's.

This is the only place Help Me Decide reads personal history, and every query here is filtered to
the one shopper (their account, or their anonymous session before they log in).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, bindparam, func, select
from sqlalchemy.orm import Session

from marketplace.catalog.models import Category, Product
from marketplace.decide.domain import Interaction, ProductFacts, SearchSignal, ShopperSignal
from marketplace.history.models import HistoryEvent


@dataclass(frozen=True)
class HistoryRow:
    kind: str
    product_id: int | None
    category: str | None  # the product's category, else the event's own category
    query: str | None
    filters: Mapping[str, Any]
    at: datetime


def owner_filter(account_id: int | None, session_key: str | None) -> ColumnElement[bool]:
    """Rows of this shopper only: their account, or (anonymous) their session's unclaimed rows."""
    if account_id is not None:
        return HistoryEvent.account_id == account_id
    if not session_key:
        # No identity at all: match nothing rather than everything.
        return HistoryEvent.id < 0
    return (HistoryEvent.session_key == session_key) & HistoryEvent.account_id.is_(None)


def _history_statement(owner: ColumnElement[bool]) -> Select[Any]:
    return (
        select(
            HistoryEvent.kind,
            HistoryEvent.product_id,
            Category.slug,
            HistoryEvent.category_slug,
            HistoryEvent.query,
            HistoryEvent.filters,
            HistoryEvent.created_at,
        )
        .outerjoin(Product, Product.id == HistoryEvent.product_id)
        .outerjoin(Category, Category.id == Product.category_id)
        .where(owner)
        .where(HistoryEvent.created_at >= bindparam("since"))
        .order_by(HistoryEvent.created_at, HistoryEvent.id)
    )


# Built once: every ask reads a history, and building the statement cost more than running it.
_HISTORY_OF_ACCOUNT = _history_statement(HistoryEvent.account_id == bindparam("account_id"))
_HISTORY_OF_SESSION = _history_statement(
    (HistoryEvent.session_key == bindparam("session_key")) & HistoryEvent.account_id.is_(None)
)


def _connection(session: Session) -> Connection:
    """The session's connection, for statements run without the ORM (its own objects written
    first, as the ORM's autoflush would)."""
    session.flush()
    return session.connection()


def load_history(
    session: Session, *, account_id: int | None, session_key: str | None, since: datetime
) -> list[HistoryRow]:
    """The shopper's own events since `since`, oldest first."""
    if account_id is not None:
        statement, params = _HISTORY_OF_ACCOUNT, {"account_id": account_id, "since": since}
    elif session_key:
        statement, params = _HISTORY_OF_SESSION, {"session_key": session_key, "since": since}
    else:
        return []  # no identity at all: nobody's history
    rows = _connection(session).execute(statement, params).all()
    return [
        HistoryRow(
            kind=r[0],
            product_id=r[1],
            category=r[2] or r[3],
            query=r[4],
            filters=dict(r[5] or {}),
            at=r[6],
        )
        for r in rows
    ]


def view_counts(
    session: Session, *, account_id: int | None, session_key: str | None, since: datetime
) -> dict[str, tuple[int, datetime]]:
    """Per category, the distinct products the shopper viewed since `since` and the last view:
    what `trigger_category` reads of a history, counted by the database (one row per category,
    however long the history; every page with the offer asks)."""
    category = func.coalesce(Category.slug, HistoryEvent.category_slug)
    rows = session.execute(
        select(
            category,
            func.count(HistoryEvent.product_id.distinct()),
            func.max(HistoryEvent.created_at),
        )
        .outerjoin(Product, Product.id == HistoryEvent.product_id)
        .outerjoin(Category, Category.id == Product.category_id)
        .where(owner_filter(account_id, session_key))
        .where(
            HistoryEvent.kind == "view",
            HistoryEvent.product_id.is_not(None),
            HistoryEvent.created_at >= since,
            category.is_not(None),
        )
        .group_by(category)
    ).all()
    return {str(r[0]): (int(r[1]), r[2]) for r in rows}


def with_queued_views(
    session: Session,
    counts: Mapping[str, tuple[int, datetime]],
    queued: Iterable[Mapping[str, Any]],
    *,
    account_id: int | None,
    session_key: str | None,
    since: datetime,
) -> dict[str, tuple[int, datetime]]:
    """`counts` with the shopper's views still queued on the write-behind (rows the database does
    not have yet, e.g. the page being served): a product counts once, queued or written."""
    mine: dict[str, dict[int, datetime]] = defaultdict(dict)
    for row in queued:
        if row.get("kind") != "view" or row.get("product_id") is None:
            continue
        owner = (
            row.get("account_id") == account_id
            if account_id is not None
            else bool(session_key)
            and row.get("account_id") is None
            and row.get("session_key") == session_key
        )
        if owner and row.get("category_slug") and row["created_at"] >= since:
            seen = mine[str(row["category_slug"])]
            product = int(row["product_id"])
            seen[product] = max(seen.get(product, row["created_at"]), row["created_at"])
    if not mine:
        return dict(counts)
    products = {p for seen in mine.values() for p in seen}
    written = set(
        session.scalars(
            select(HistoryEvent.product_id)
            .distinct()
            .where(
                owner_filter(account_id, session_key),
                HistoryEvent.kind == "view",
                HistoryEvent.created_at >= since,
                HistoryEvent.product_id.in_(products),
            )
        )
    )
    merged = dict(counts)
    for slug, seen in mine.items():
        count, last = merged.get(slug, (0, min(seen.values())))
        fresh = sum(1 for p in seen if p not in written)
        merged[slug] = (count + fresh, max(last, *seen.values()))
    return merged


def offered_by_counts(counts: Mapping[str, tuple[int, datetime]], *, min_viewed: int) -> str | None:
    """`trigger_category`'s choice from `view_counts`: the most recently viewed category among
    those with enough distinct products viewed."""
    eligible = [slug for slug, (n, _) in counts.items() if n >= min_viewed]
    if not eligible:
        return None
    return max(eligible, key=lambda slug: (counts[slug][1], counts[slug][0], slug))


def viewed_by_category(rows: Iterable[HistoryRow], *, since: datetime) -> dict[str, set[int]]:
    """Distinct products viewed per category since `since`."""
    out: dict[str, set[int]] = defaultdict(set)
    for row in rows:
        if row.kind == "view" and row.product_id is not None and row.category and row.at >= since:
            out[row.category].add(row.product_id)
    return dict(out)


def trigger_category(
    rows: Sequence[HistoryRow], *, now: datetime, min_viewed: int, window_hours: float
) -> tuple[str | None, dict[str, int]]:
    """The category that triggers the offer (most recently viewed among those with enough views).

    Returns it (or None) and the number of distinct products viewed per category in the window.
    """
    since = now - timedelta(hours=window_hours)
    viewed = viewed_by_category(rows, since=since)
    counts = {slug: len(ids) for slug, ids in viewed.items()}
    last_view: dict[str, datetime] = {}
    for row in rows:
        if row.kind == "view" and row.category in counts and row.at >= since:
            last_view[row.category] = row.at
    eligible = [slug for slug, n in counts.items() if n >= min_viewed]
    if not eligible:
        return None, counts
    return max(eligible, key=lambda slug: (last_view[slug], counts[slug], slug)), counts


# Only the columns scoring reads: loading whole rows (descriptions included) costs more than
# the scoring itself.
FACT_COLUMNS = (
    Product.id,
    Product.title,
    Product.brand,
    Product.price,
    Product.rating,
    Product.review_count,
    Product.stock,
    Product.attributes,
    Product.is_house_brand,
)


def fact_from_row(row: Sequence[Any], category_slug: str) -> ProductFacts:
    return ProductFacts(
        id=int(row[0]),
        title=row[1],
        brand=row[2],
        category=category_slug,
        price=float(row[3]),
        rating=float(row[4]),
        review_count=int(row[5]),
        stock=int(row[6]),
        attributes=dict(row[7] or {}),
        is_house_brand=bool(row[8]),
    )


_FACTS = (
    select(*FACT_COLUMNS, Category.slug)
    .join(Category, Category.id == Product.category_id)
    .where(Product.id.in_(bindparam("ids", expanding=True)))
)


def load_facts(session: Session, ids: Iterable[int]) -> dict[int, ProductFacts]:
    """Product facts by id (whatever their stock), for the products in a shopper's history."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = _connection(session).execute(_FACTS, {"ids": wanted}).all()
    return {int(r[0]): fact_from_row(r, r[9]) for r in rows}


def _mentions(query: str, words: Iterable[str]) -> bool:
    lowered = query.lower()
    return any(w and w in lowered for w in words)


def category_signal(
    session: Session,
    rows: Sequence[HistoryRow],
    category: str,
    *,
    category_words: Sequence[str] = (),
    extra_queries: Sequence[str] = (),
    now: datetime | None = None,
    known: Callable[[int], ProductFacts | None] | None = None,
) -> ShopperSignal:
    """The shopper's signal for one category, from their own history rows only.

    `known` gives the facts of products the caller already holds (the worker's copy of the
    category); the others are read from the database."""
    views: Counter[int] = Counter()
    in_cart: dict[int, bool] = {}
    purchases: Counter[int] = Counter()
    last_at: dict[int, datetime] = {}
    bought_any: Counter[int] = Counter()
    searches: list[SearchSignal] = []
    for row in rows:
        if row.kind == "search" and row.query is not None:
            if row.category == category or _mentions(row.query, category_words):
                searches.append(SearchSignal(row.query, row.filters, row.at))
            continue
        if row.product_id is None:
            continue
        if row.kind == "purchase":
            bought_any[row.product_id] += 1
        if row.category != category:
            continue
        last_at[row.product_id] = row.at
        if row.kind == "view":
            views[row.product_id] += 1
        elif row.kind == "cart_add":
            in_cart[row.product_id] = True
        elif row.kind == "cart_remove":
            # Taken out again: a considered and rejected option, not a sign of liking it.
            in_cart[row.product_id] = False
        elif row.kind == "purchase":
            purchases[row.product_id] += 1
    for text in extra_queries:
        searches.append(SearchSignal(text, {}, now))
    ids = set(views) | set(in_cart) | set(purchases) | set(bought_any)
    facts: dict[int, ProductFacts] = {}
    if known is not None:
        facts = {pid: fact for pid in ids if (fact := known(pid)) is not None}
    facts.update(load_facts(session, ids - facts.keys()))
    interactions = tuple(
        Interaction(
            product=facts[pid],
            views=views[pid],
            carted=in_cart.get(pid, False),
            purchases=purchases[pid],
            last_at=last_at.get(pid),
        )
        for pid in sorted(set(views) | set(in_cart) | set(purchases))
        if pid in facts and facts[pid].category == category
    )
    brands: Counter[str] = Counter()
    for pid, count in bought_any.items():
        if pid in facts:
            brands[facts[pid].brand] += count
    return ShopperSignal(
        category=category,
        interactions=interactions,
        searches=tuple(searches),
        brands_bought=dict(brands),
    )
