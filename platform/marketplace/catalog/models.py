"""Catalog tables: categories, products and the ad impressions served with them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UnaryExpression,
    literal_column,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.core.db import Base, UTCDateTime

Money = Numeric(12, 2, asdecimal=False)

_BID_DESC: UnaryExpression[Any] = literal_column("sponsored_bid").desc()
_BIDDERS_ONLY: dict[str, Any] = {
    "sqlite_where": literal_column("sponsored_bid") > 0,
    "postgresql_where": literal_column("sponsored_bid") > 0,
}


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        Index("ix_products_category_price", "category_id", "price"),
        # Migration 0007 added review_count, the tie-break of `sort=rating`, to both.
        Index("ix_products_category_rating", "category_id", "rating", "review_count"),
        Index("ix_products_price", "price"),
        Index("ix_products_rating", "rating", "review_count"),
        # Created by migration 0002 with the search index: popularity is the default order.
        Index("ix_products_review_count", "review_count"),
        Index("ix_products_category_review_count", "category_id", "review_count"),
        # Created by migration 0007: the newest-first sort, with and without a category.
        Index("ix_products_created_at", "created_at"),
        Index("ix_products_category_created_at", "category_id", "created_at"),
        # Also 0007: the sponsored slots walk the bidders, highest bid first, without sorting.
        # Partial: most products bid nothing, and only bidders are ever looked up by bid.
        Index("ix_products_sponsored", _BID_DESC, **_BIDDERS_ONLY),
        Index("ix_products_category_sponsored", "category_id", _BID_DESC, **_BIDDERS_ONLY),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    brand: Mapped[str] = mapped_column(String(80), index=True)
    is_house_brand: Mapped[bool] = mapped_column(Boolean, default=False)
    price: Mapped[float] = mapped_column(Money)
    cost: Mapped[float] = mapped_column(Money)
    rating: Mapped[float] = mapped_column(Float)
    review_count: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int] = mapped_column(Integer)
    seller: Mapped[str] = mapped_column(String(120))
    seller_type: Mapped[str] = mapped_column(String(16))  # "platform" | "third-party"
    sponsored_bid: Mapped[float] = mapped_column(Money, default=0.0)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    category: Mapped[Category] = relationship(lazy="raise")


class AdImpression(Base):
    """One sponsored listing shown to one visitor; the harness counts them by visitor class."""

    __tablename__ = "ad_impressions"
    __table_args__ = (Index("ix_ad_impressions_class_time", "visitor_class", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    bid: Mapped[float] = mapped_column(Money)
    placement: Mapped[str] = mapped_column(String(16))  # "search" | "product" | "home"
    position: Mapped[int] = mapped_column(Integer)
    query: Mapped[str | None] = mapped_column(String(200))
    visitor_class: Mapped[str] = mapped_column(String(32))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    session_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IdBlock(Base):
    """The next free id of a table whose ids are handed out in blocks (`catalog.adids`), so a
    process can name a row before it is written; one row per table."""

    __tablename__ = "id_blocks"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    next_id: Mapped[int] = mapped_column(BigInteger)


class AdClick(Base):
    """A visitor opening a sponsored listing; the advertiser pays its bid for a person's click."""

    __tablename__ = "ad_clicks"
    __table_args__ = (Index("ix_ad_clicks_time", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Unique: an impression is clicked (and paid for) at most once, however often it is opened.
    impression_id: Mapped[int] = mapped_column(ForeignKey("ad_impressions.id"), unique=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    cost: Mapped[float] = mapped_column(Money)
    charged: Mapped[bool] = mapped_column(Boolean)
    visitor_class: Mapped[str] = mapped_column(String(32))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    session_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProductChange(Base):
    """A product whose searchable fields changed, logged by triggers in the changing transaction
    (migration 0015), so the search index (`catalog.text_index`) can catch up with it. A row
    without a product says the whole catalog changed (a bulk load), under a new `token`."""

    __tablename__ = "product_changes"
    __table_args__ = (
        Index("ix_product_changes_product", "product_id", "seq"),
        {"sqlite_autoincrement": True},
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # No foreign key: a deleted product's id is logged too.
    product_id: Mapped[int | None] = mapped_column(Integer)
    token: Mapped[str | None] = mapped_column(String(32))
