"""The shopper's private history: searches, views, cart changes and purchases."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.core.db import Base, UTCDateTime

EVENT_KINDS = ("search", "view", "cart_add", "cart_update", "cart_remove", "purchase")


class HistoryEvent(Base):
    """One thing a shopper did; anonymous events carry the session key until login claims them."""

    __tablename__ = "history_events"
    __table_args__ = (
        Index("ix_history_account_time", "account_id", "created_at"),
        Index("ix_history_session_time", "session_key", "created_at"),
        Index("ix_history_product_kind", "product_id", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    session_key: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    category_slug: Mapped[str | None] = mapped_column(String(64))
    query: Mapped[str | None] = mapped_column(String(200))
    filters: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    quantity: Mapped[int | None] = mapped_column(Integer)
    order_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
