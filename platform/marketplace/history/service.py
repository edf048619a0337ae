"""Recording and reading the shopper's private history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from marketplace.history.models import EVENT_KINDS, HistoryEvent


def record_event(
    session: Session,
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
) -> HistoryEvent:
    """Add one event to the caller's history, in the request's transaction."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown history event kind {kind!r}")
    event = HistoryEvent(
        kind=kind,
        created_at=now,
        account_id=account_id,
        session_key=session_key,
        product_id=product_id,
        category_slug=category_slug,
        query=query,
        filters=filters,
        quantity=quantity,
        order_id=order_id,
    )
    session.add(event)
    return event
