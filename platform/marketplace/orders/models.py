"""Orders and their lines; an order is written once, from the cart, in one transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.catalog.models import Money
from marketplace.core.db import Base, UTCDateTime


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("account_id", "idempotency_key", name="uq_orders_account_idempotency"),
        Index("ix_orders_account_created", "account_id", "created_at"),
        Index("ix_orders_channel", "channel"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="placed")
    total: Mapped[float] = mapped_column(Money)
    payment_method: Mapped[str] = mapped_column(String(32))
    payment_reference: Mapped[str] = mapped_column(String(64))
    # The gate's visitor class when the order was placed ("human", "first-party-agent", ...).
    channel: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    items: Mapped[list[OrderItem]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="OrderItem.id"
    )


class OrderItem(Base):
    __tablename__ = "order_items"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    unit_price: Mapped[float] = mapped_column(Money)
    quantity: Mapped[int] = mapped_column(Integer)


class StockHold(Base):
    """Units of a product set aside for one account: nobody else may buy them.

    A workshop holds each team's share of the challenge product, so a plain shopper cannot buy
    the stock the teams compete for. A purchase by the holder uses its hold up first.
    """

    __tablename__ = "stock_holds"

    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    units: Mapped[int] = mapped_column(Integer)
