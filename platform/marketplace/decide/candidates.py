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

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from marketplace.catalog.models import Category, Product
from marketplace.history.models import HistoryEvent

CO_KINDS = ("view", "cart_add", "purchase")
MIN_CO_VIEWERS = 2


def category_row(session: Session, slug: str) -> Category | None:
    return session.scalar(select(Category).where(Category.slug == slug))


def all_category_slugs(session: Session) -> list[str]:
    return list(session.scalars(select(Category.slug).order_by(Category.slug)))


@dataclass(frozen=True)
class CoView:
    """Cosine similarity to the shopper's products, and how many shoppers back it."""

    similarity: dict[int, float]
    co_viewers: dict[int, int]


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
    seed_ids = sorted(seeds)
    others = [
        HistoryEvent.account_id.is_not(None),
        HistoryEvent.kind.in_(CO_KINDS),
        HistoryEvent.created_at >= since,
    ]
    if exclude_account_id is not None:
        others.append(HistoryEvent.account_id != exclude_account_id)
    seed_users = (
        select(HistoryEvent.account_id)
        .where(HistoryEvent.product_id.in_(seed_ids), *others)
        .distinct()
        .subquery()
    )
    n_seed_users = session.scalar(select(func.count()).select_from(seed_users)) or 0
    if not n_seed_users:
        return CoView({}, {})
    viewers = func.count(HistoryEvent.account_id.distinct())
    co_rows = session.execute(
        select(HistoryEvent.product_id, viewers)
        .join(Product, Product.id == HistoryEvent.product_id)
        .where(HistoryEvent.account_id.in_(select(seed_users.c.account_id)), *others)
        .where(HistoryEvent.product_id.not_in(seed_ids))
        .where(Product.category_id == category.id, Product.stock > 0)
        .group_by(HistoryEvent.product_id)
        .having(viewers >= MIN_CO_VIEWERS)
        .order_by(viewers.desc(), HistoryEvent.product_id)
        .limit(limit)
    ).all()
    if not co_rows:
        return CoView({}, {})
    counts = {int(pid): int(n) for pid, n in co_rows if pid is not None}
    popularity = dict(
        session.execute(
            select(HistoryEvent.product_id, viewers)
            .where(HistoryEvent.product_id.in_(sorted(counts)), *others)
            .group_by(HistoryEvent.product_id)
        ).all()
    )
    similarity = {
        pid: n / math.sqrt(max(int(popularity.get(pid, n)), n) * n_seed_users)
        for pid, n in counts.items()
    }
    return CoView(similarity, counts)
