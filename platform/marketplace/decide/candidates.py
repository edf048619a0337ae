"""Candidates: the category's in-stock products, widened by item-to-item co-view similarity.

The similarity is the one of Linden, Smith and York (2003), "Amazon.com recommendations:
item-to-item collaborative filtering": two products are similar when the same customers view or
buy both, measured as the cosine between their customer vectors. It is the only aggregate of
other shoppers' history Help Me Decide uses, and only counts with at least `MIN_CO_VIEWERS`
distinct shoppers behind them, so no single other shopper's behaviour can be read from a pick.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, Select, bindparam, func, select
from sqlalchemy.orm import Session

from marketplace.catalog.models import Category, Product
from marketplace.history.models import HistoryEvent

CO_KINDS = ("view", "cart_add", "purchase")
MIN_CO_VIEWERS = 2


_CATEGORY = select(Category).where(Category.slug == bindparam("slug"))


def category_row(session: Session, slug: str) -> Category | None:
    return session.scalar(_CATEGORY, {"slug": slug})


def all_category_slugs(session: Session) -> list[str]:
    return list(session.scalars(select(Category.slug).order_by(Category.slug)))


@dataclass(frozen=True)
class CoView:
    """Cosine similarity to the shopper's products, and how many shoppers back it."""

    similarity: dict[int, float]
    co_viewers: dict[int, int]


def _co_view_statements(
    exclude: bool,
) -> tuple[Select[int], Select[int | None, int], Select[int | None, int]]:
    """How many other shoppers dealt with the seeds; the category's in-stock products they
    dealt with, by how many of them; and each such product's own number of shoppers. Built once
    (every ask runs the first): building them cost more than running them."""
    others = [
        HistoryEvent.account_id.is_not(None),
        HistoryEvent.kind.in_(CO_KINDS),
        HistoryEvent.created_at >= bindparam("since"),
    ]
    if exclude:
        others.append(HistoryEvent.account_id != bindparam("exclude"))
    seed_ids: BindParameter[list[int]] = bindparam("seeds", expanding=True)
    seed_users = (
        select(HistoryEvent.account_id)
        .where(HistoryEvent.product_id.in_(seed_ids), *others)
        .distinct()
        .subquery()
    )
    viewers = func.count(HistoryEvent.account_id.distinct())
    count = select(func.count()).select_from(seed_users)
    co_rows = (
        select(HistoryEvent.product_id, viewers)
        .join(Product, Product.id == HistoryEvent.product_id)
        .where(HistoryEvent.account_id.in_(select(seed_users.c.account_id)), *others)
        .where(HistoryEvent.product_id.not_in(seed_ids))
        .where(Product.category_id == bindparam("category"), Product.stock > 0)
        .group_by(HistoryEvent.product_id)
        .having(viewers >= MIN_CO_VIEWERS)
        .order_by(viewers.desc(), HistoryEvent.product_id)
        .limit(bindparam("limit"))
    )
    popularity = (
        select(HistoryEvent.product_id, viewers)
        .where(HistoryEvent.product_id.in_(bindparam("products", expanding=True)), *others)
        .group_by(HistoryEvent.product_id)
    )
    return count, co_rows, popularity


_CO_VIEW = {exclude: _co_view_statements(exclude) for exclude in (False, True)}


def co_view(
    session: Session,
    *,
    seeds: Collection[int],
    category: Category,
    exclude_account_id: int | None,
    since: datetime,
    limit: int,
) -> CoView:
    """In-stock products of the category most often co-viewed with `seeds` by other shoppers."""
    if not seeds or limit <= 0:
        return CoView({}, {})
    count, co_rows_of, popularity_of = _CO_VIEW[exclude_account_id is not None]
    params: dict[str, Any] = {"seeds": sorted(seeds), "since": since}
    if exclude_account_id is not None:
        params["exclude"] = exclude_account_id
    session.flush()  # as the ORM's autoflush would: the session's own new rows count
    connection = session.connection()
    n_seed_users = connection.execute(count, params).scalar() or 0
    if not n_seed_users:
        return CoView({}, {})
    co_rows = connection.execute(
        co_rows_of, {**params, "category": category.id, "limit": limit}
    ).all()
    if not co_rows:
        return CoView({}, {})
    counts = {int(pid): int(n) for pid, n in co_rows if pid is not None}
    popularity: dict[int, int] = {
        int(pid): int(n)
        for pid, n in connection.execute(popularity_of, {**params, "products": sorted(counts)})
        if pid is not None
    }
    similarity = {
        pid: n / math.sqrt(max(int(popularity.get(pid, n)), n) * n_seed_users)
        for pid, n in counts.items()
    }
    return CoView(similarity, counts)
