"""Tables of the protocol checkout core: sessions, their orders, idempotency, the test shop's data.

Money here is an integer in the currency's minor unit (cents), as the protocols send it; the
marketplace's own tables keep a decimal in the store's currency.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.core.db import Base, UTCDateTime


class ProtocolCheckout(Base):
    """A checkout session opened through a protocol door (UCP, MCP or ACP)."""

    __tablename__ = "protocol_checkouts"
    __table_args__ = (Index("ix_protocol_checkouts_channel_created", "channel", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(24))
    currency: Mapped[str] = mapped_column(String(3))
    # [{id, item_id, product_id, title, unit_price, quantity, image_url}]
    line_items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    buyer: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # {"methods": [{id, type, destinations, selected_destination_id, group_id, selected_option_id}]}
    fulfillment: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    discount_codes: Mapped[list[str]] = mapped_column(JSON)
    # {selected_instrument_id, instruments}: what the agent sent, never a card number
    payment: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The URL of the agent's profile (UCP-Agent header); its order webhook is read from there.
    agent_profile: Mapped[str | None] = mapped_column(String(2048))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProtocolOrder(Base):
    """The protocol's view of a marketplace order: its public id, fulfillment and adjustments."""

    __tablename__ = "protocol_orders"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    checkout_id: Mapped[str] = mapped_column(ForeignKey("protocol_checkouts.id"), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    line_items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    totals: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    expectations: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    events: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    adjustments: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProtocolIdempotency(Base):
    """The first answer to a request with an idempotency key, replayed to its retries."""

    __tablename__ = "protocol_idempotency"
    __table_args__ = (UniqueConstraint("channel", "key", name="uq_protocol_idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ProtocolCustomer(Base):
    """A buyer the shop knows by email, with addresses (a fixture's, or saved at a checkout)."""

    __tablename__ = "protocol_customers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), unique=True)


class ProtocolAddress(Base):
    __tablename__ = "protocol_addresses"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("protocol_customers.id", ondelete="CASCADE"), index=True
    )
    street_address: Mapped[str | None] = mapped_column(String(300))
    address_locality: Mapped[str | None] = mapped_column(String(120))
    address_region: Mapped[str | None] = mapped_column(String(120))
    postal_code: Mapped[str | None] = mapped_column(String(32))
    address_country: Mapped[str | None] = mapped_column(String(2))
    position: Mapped[int] = mapped_column(Integer)


class ProtocolDiscount(Base):
    """A discount code: `percentage` (value in percent) or `fixed_amount` (minor units)."""

    __tablename__ = "protocol_discounts"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(200))


class ProtocolPromotion(Base):
    """An automatic promotion; `free_shipping` above a subtotal or for some items."""

    __tablename__ = "protocol_promotions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    min_subtotal: Mapped[int | None] = mapped_column(Integer)
    eligible_item_ids: Mapped[list[str]] = mapped_column(JSON)
    description: Mapped[str] = mapped_column(String(200))


class ProtocolShippingRate(Base):
    """A shipping option; `country_code` is an ISO country or `default` (every other country)."""

    __tablename__ = "protocol_shipping_rates"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    country_code: Mapped[str] = mapped_column(String(16))
    service_level: Mapped[str] = mapped_column(String(32))
    price: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))


class ProtocolPaymentInstrument(Base):
    """A test instrument of the mock payment handler: its token decides the payment's outcome."""

    __tablename__ = "protocol_payment_instruments"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    brand: Mapped[str] = mapped_column(String(32))
    last_digits: Mapped[str] = mapped_column(String(4))
    token: Mapped[str] = mapped_column(String(128))
    handler_id: Mapped[str] = mapped_column(String(64))
