"""Search indexes: every sort walks an index, sponsored slots walk the bidders

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Only products with a bid are ever looked up by bid, and most products bid nothing.
_BIDDERS = "sponsored_bid > 0"
_BID_DESC: sa.UnaryExpression[object] = sa.literal_column("sponsored_bid").desc()


def upgrade() -> None:
    # `sort=newest` read every product (of the category) and sorted them.
    op.create_index("ix_products_created_at", "products", ["created_at"])
    op.create_index("ix_products_category_created_at", "products", ["category_id", "created_at"])
    # `sort=rating` breaks ties by review count: with it in the index, the top-rated products
    # come out in order instead of every product of the best rating being sorted.
    op.drop_index("ix_products_rating", table_name="products")
    op.create_index("ix_products_rating", "products", ["rating", "review_count"])
    op.drop_index("ix_products_category_rating", table_name="products")
    op.create_index(
        "ix_products_category_rating", "products", ["category_id", "rating", "review_count"]
    )
    # The sponsored slots walk the bidders, highest bid first (ties by id), with no sort.
    op.drop_index("ix_products_sponsored", table_name="products")
    _bidders_index("ix_products_sponsored", [_BID_DESC])
    _bidders_index("ix_products_category_sponsored", ["category_id", _BID_DESC])
    if op.get_bind().dialect.name == "sqlite":
        # SQLite's planner prefers an index it has no statistics for (sqlite_stat1) to the
        # analysed ones, and read a whole category through a new index to sort it by price.
        # Statistics for the new indexes alone are cheap, and nothing on an empty database
        # (the seed analyses everything when it is done).
        for name in (
            "ix_products_created_at",
            "ix_products_category_created_at",
            "ix_products_rating",
            "ix_products_category_rating",
            "ix_products_sponsored",
            "ix_products_category_sponsored",
        ):
            op.execute(f"ANALYZE {name}")


def _bidders_index(name: str, columns: list[sa.ColumnElement[object] | str]) -> None:
    op.create_index(
        name,
        "products",
        columns,
        sqlite_where=sa.text(_BIDDERS),
        postgresql_where=sa.text(_BIDDERS),
    )


def downgrade() -> None:
    op.drop_index("ix_products_category_sponsored", table_name="products")
    op.drop_index("ix_products_sponsored", table_name="products")
    op.create_index("ix_products_sponsored", "products", ["sponsored_bid"])
    op.drop_index("ix_products_category_rating", table_name="products")
    op.create_index("ix_products_category_rating", "products", ["category_id", "rating"])
    op.drop_index("ix_products_rating", table_name="products")
    op.create_index("ix_products_rating", "products", ["rating"])
    op.drop_index("ix_products_category_created_at", table_name="products")
    op.drop_index("ix_products_created_at", table_name="products")
