"""Recording and reading the shopper's private history.

The read helpers take the owner as (`account_id`, `session_key`): the account when logged in,
otherwise the anonymous session. Nothing here ever returns another owner's events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, case, func, select, update
from sqlalchemy.orm import Session

from marketplace.core.writebehind import WriteBehind
from marketplace.history.models import EVENT_KINDS, HistoryEvent


def record_event(
    target: Session | WriteBehind,
    *,
    kind: str,
    now: datetime,
    account_id: int | None,
    session_key: str | None,
    product_id: int | None = None,
    category_slug: str | None = None,
    query: str | None = None,
    filters: dict[str, Any] | None = None,
    quantity: int | None = None,
    order_id: int | None = None,
) -> None:
    """Add one event to the caller's history: in the request's transaction (a `Session`), or
    queued on the database's `WriteBehind`, so the request takes no write lock for it and
    whatever this process reads next still includes it."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown history event kind {kind!r}")
    row = {
        "kind": kind,
        "created_at": now,
        "account_id": account_id,
        "session_key": session_key,
        "product_id": product_id,
        "category_slug": category_slug,
        "query": query,
        "filters": filters,
        "quantity": quantity,
        "order_id": order_id,
    }
    if isinstance(target, WriteBehind):
        target.add(cast(Table, HistoryEvent.__table__), row)
    else:
        target.add(HistoryEvent(**row))


def owner_filter(account_id: int | None, session_key: str | None) -> ColumnElement[bool]:
    """Events of exactly one owner: an account's, or an anonymous session's unclaimed ones."""
    if account_id is not None:
        return HistoryEvent.account_id == account_id
    if session_key:
        return (HistoryEvent.session_key == session_key) & HistoryEvent.account_id.is_(None)
    # No owner at all must match nothing, not everything.
    return HistoryEvent.id.is_(None)


def _events_query(
    *,
    account_id: int | None,
    session_key: str | None,
    since: datetime | None = None,
    until: datetime | None = None,
    kinds: Sequence[str] | None = None,
    category_slug: str | None = None,
) -> Select[HistoryEvent]:
    query = select(HistoryEvent).where(owner_filter(account_id, session_key))
    if since is not None:
        query = query.where(HistoryEvent.created_at >= since)
    if until is not None:
        query = query.where(HistoryEvent.created_at <= until)
    if kinds:
        unknown = set(kinds) - set(EVENT_KINDS)
        if unknown:
            raise ValueError(f"unknown history event kind(s) {sorted(unknown)}")
        query = query.where(HistoryEvent.kind.in_(list(kinds)))
    if category_slug is not None:
        query = query.where(HistoryEvent.category_slug == category_slug)
    return query


def recent_events(
    session: Session,
    *,
    account_id: int | None,
    session_key: str | None,
    since: datetime | None = None,
    kinds: Sequence[str] | None = None,
    category_slug: str | None = None,
    limit: int | None = 500,
) -> list[HistoryEvent]:
    """The owner's events, newest first, optionally since a moment, of some kinds, in a category."""
    query = _events_query(
        account_id=account_id,
        session_key=session_key,
        since=since,
        kinds=kinds,
        category_slug=category_slug,
    ).order_by(HistoryEvent.created_at.desc(), HistoryEvent.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query).all())


def event_page(
    session: Session,
    *,
    account_id: int | None,
    session_key: str | None,
    kind: str | None,
    page: int,
    page_size: int,
) -> tuple[list[HistoryEvent], int]:
    """One page of the owner's events, newest first, and the owner's total count."""
    kinds = [kind] if kind else None
    base = _events_query(account_id=account_id, session_key=session_key, kinds=kinds)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    events = session.scalars(
        base.order_by(HistoryEvent.created_at.desc(), HistoryEvent.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return list(events), total


@dataclass(frozen=True)
class ProductInterest:
    """How much an owner engaged with one product in a window."""

    product_id: int
    category_slug: str | None
    views: int
    cart_adds: int
    purchases: int
    last_seen: datetime


def product_interest(
    session: Session,
    *,
    account_id: int | None,
    session_key: str | None,
    since: datetime | None = None,
    category_slug: str | None = None,
) -> list[ProductInterest]:
    """Per product the owner touched: views, cart adds and purchases; most recent first."""
    filtered = _events_query(
        account_id=account_id,
        session_key=session_key,
        since=since,
        kinds=("view", "cart_add", "purchase"),
        category_slug=category_slug,
    ).where(HistoryEvent.product_id.is_not(None))
    events = filtered.subquery()

    def count_of(kind: str) -> ColumnElement[int]:
        return func.sum(case((events.c.kind == kind, 1), else_=0))

    rows = session.execute(
        select(
            events.c.product_id,
            func.max(events.c.category_slug),
            count_of("view"),
            count_of("cart_add"),
            count_of("purchase"),
            # max() keeps the column's type, so the value comes back as an aware UTC datetime.
            func.max(events.c.created_at),
        )
        .group_by(events.c.product_id)
        .order_by(func.max(events.c.created_at).desc(), events.c.product_id)
    ).all()
    return [
        ProductInterest(
            product_id=int(row[0]),
            category_slug=row[1],
            views=int(row[2] or 0),
            cart_adds=int(row[3] or 0),
            purchases=int(row[4] or 0),
            last_seen=row[5],
        )
        for row in rows
    ]


def category_counts(
    session: Session,
    *,
    account_id: int | None,
    session_key: str | None,
    since: datetime | None = None,
    kinds: Sequence[str] = ("search", "view", "cart_add", "purchase"),
) -> dict[str, int]:
    """Events per category slug, to find what the owner is shopping for right now."""
    events = _events_query(
        account_id=account_id, session_key=session_key, since=since, kinds=kinds
    ).subquery()
    rows = session.execute(
        select(events.c.category_slug, func.count())
        .where(events.c.category_slug.is_not(None))
        .group_by(events.c.category_slug)
    ).all()
    return {str(row[0]): int(row[1]) for row in rows}


def claim_anonymous_history(session: Session, session_key: str, account_id: int) -> None:
    """Give an account the history its browser recorded before logging in (a login hook)."""
    session.execute(
        update(HistoryEvent)
        .where(HistoryEvent.session_key == session_key)
        .where(HistoryEvent.account_id.is_(None))
        .values(account_id=account_id)
    )
