"""Protocol checkout core: checkout sessions of the protocol doors, their orders, idempotency
records and the test shop's data (customers, addresses, discounts, promotions, shipping rates,
payment instruments)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import marketplace.core.db

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "protocol_customers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_protocol_customers")),
        sa.UniqueConstraint("email", name=op.f("uq_protocol_customers_email")),
    )
    op.create_table(
        "protocol_discounts",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_protocol_discounts")),
    )
    op.create_table(
        "protocol_idempotency",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("created_at", marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_protocol_idempotency")),
        sa.UniqueConstraint("channel", "key", name="uq_protocol_idempotency_key"),
    )
    with op.batch_alter_table("protocol_idempotency", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_protocol_idempotency_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "protocol_payment_instruments",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("brand", sa.String(length=32), nullable=False),
        sa.Column("last_digits", sa.String(length=4), nullable=False),
        sa.Column("token", sa.String(length=128), nullable=False),
        sa.Column("handler_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_protocol_payment_instruments")),
    )
    op.create_table(
        "protocol_promotions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("min_subtotal", sa.Integer(), nullable=True),
        sa.Column("eligible_item_ids", sa.JSON(), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_protocol_promotions")),
    )
    op.create_table(
        "protocol_shipping_rates",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("country_code", sa.String(length=16), nullable=False),
        sa.Column("service_level", sa.String(length=32), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_protocol_shipping_rates")),
    )
    op.create_table(
        "protocol_addresses",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("street_address", sa.String(length=300), nullable=True),
        sa.Column("address_locality", sa.String(length=120), nullable=True),
        sa.Column("address_region", sa.String(length=120), nullable=True),
        sa.Column("postal_code", sa.String(length=32), nullable=True),
        sa.Column("address_country", sa.String(length=2), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["protocol_customers.id"],
            name=op.f("fk_protocol_addresses_customer_id_protocol_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_protocol_addresses")),
    )
    with op.batch_alter_table("protocol_addresses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_protocol_addresses_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "protocol_checkouts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("line_items", sa.JSON(), nullable=False),
        sa.Column("buyer", sa.JSON(), nullable=True),
        sa.Column("fulfillment", sa.JSON(), nullable=True),
        sa.Column("discount_codes", sa.JSON(), nullable=False),
        sa.Column("payment", sa.JSON(), nullable=False),
        sa.Column("agent_profile", sa.String(length=2048), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("created_at", marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_protocol_checkouts_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_protocol_checkouts")),
        sa.UniqueConstraint("order_id", name=op.f("uq_protocol_checkouts_order_id")),
    )
    with op.batch_alter_table("protocol_checkouts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_protocol_checkouts_channel_created", ["channel", "created_at"], unique=False
        )

    op.create_table(
        "protocol_orders",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("checkout_id", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("line_items", sa.JSON(), nullable=False),
        sa.Column("totals", sa.JSON(), nullable=False),
        sa.Column("expectations", sa.JSON(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("adjustments", sa.JSON(), nullable=False),
        sa.Column("created_at", marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkout_id"],
            ["protocol_checkouts.id"],
            name=op.f("fk_protocol_orders_checkout_id_protocol_checkouts"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_protocol_orders_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_protocol_orders")),
        sa.UniqueConstraint("checkout_id", name=op.f("uq_protocol_orders_checkout_id")),
        sa.UniqueConstraint("order_id", name=op.f("uq_protocol_orders_order_id")),
    )


def downgrade() -> None:
    op.drop_table("protocol_orders")
    with op.batch_alter_table("protocol_checkouts", schema=None) as batch_op:
        batch_op.drop_index("ix_protocol_checkouts_channel_created")

    op.drop_table("protocol_checkouts")
    with op.batch_alter_table("protocol_addresses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_protocol_addresses_customer_id"))

    op.drop_table("protocol_addresses")
    op.drop_table("protocol_shipping_rates")
    op.drop_table("protocol_promotions")
    op.drop_table("protocol_payment_instruments")
    with op.batch_alter_table("protocol_idempotency", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_protocol_idempotency_created_at"))

    op.drop_table("protocol_idempotency")
    op.drop_table("protocol_discounts")
    op.drop_table("protocol_customers")
