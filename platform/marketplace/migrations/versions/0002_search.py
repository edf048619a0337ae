"""Full-text search index (SQLite FTS5, PostgreSQL tsvector)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# External-content FTS5: the text lives once, in `products`; the index holds only postings.
# Porter stemming matches "headphone" to "headphones", as PostgreSQL's english config does.
SQLITE_FTS = """
CREATE VIRTUAL TABLE products_fts USING fts5(
    title, brand, description,
    content='products', content_rowid='id',
    tokenize='porter unicode61 remove_diacritics 2'
)
"""

SQLITE_TRIGGERS = (
    """
    CREATE TRIGGER products_fts_ai AFTER INSERT ON products BEGIN
        INSERT INTO products_fts(rowid, title, brand, description)
        VALUES (new.id, new.title, new.brand, new.description);
    END
    """,
    """
    CREATE TRIGGER products_fts_ad AFTER DELETE ON products BEGIN
        INSERT INTO products_fts(products_fts, rowid, title, brand, description)
        VALUES ('delete', old.id, old.title, old.brand, old.description);
    END
    """,
    # Only the indexed columns: stock and price change on every order and must not reindex.
    """
    CREATE TRIGGER products_fts_au AFTER UPDATE OF title, brand, description ON products BEGIN
        INSERT INTO products_fts(products_fts, rowid, title, brand, description)
        VALUES ('delete', old.id, old.title, old.brand, old.description);
        INSERT INTO products_fts(rowid, title, brand, description)
        VALUES (new.id, new.title, new.brand, new.description);
    END
    """,
)

# A stored generated column: ranking reads the vector instead of re-parsing descriptions, and
# PostgreSQL recomputes it only from the row's own text. In-word punctuation becomes a space
# first, so "13.3-inch" yields the words 13, 3 and inch, as FTS5's tokenizer does; otherwise
# PostgreSQL would keep "13.3" whole and the two databases would answer differently.
_WORDS = "regexp_replace(coalesce({column}, ''), '[-./_:@]', ' ', 'g')"
POSTGRES_VECTOR = f"""
ALTER TABLE products ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english'::regconfig, {_WORDS.format(column="title")}), 'A') ||
    setweight(to_tsvector('english'::regconfig, {_WORDS.format(column="brand")}), 'B') ||
    setweight(to_tsvector('english'::regconfig, {_WORDS.format(column="description")}), 'D')
) STORED
"""

POSTGRES_INDEX = "CREATE INDEX ix_products_search_vector ON products USING gin (search_vector)"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(SQLITE_FTS)
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)
        op.execute("INSERT INTO products_fts(products_fts) VALUES ('rebuild')")
    elif dialect == "postgresql":
        op.execute(POSTGRES_VECTOR)
        op.execute(POSTGRES_INDEX)
    else:  # pragma: no cover - only the two supported databases
        raise RuntimeError(f"full-text search is not implemented for {dialect}")
    # The default order without a query is by popularity (review count).
    op.create_index("ix_products_review_count", "products", ["review_count"])
    op.create_index(
        "ix_products_category_review_count", "products", ["category_id", "review_count"]
    )


def downgrade() -> None:
    op.drop_index("ix_products_category_review_count", table_name="products")
    op.drop_index("ix_products_review_count", table_name="products")
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("products_fts_au", "products_fts_ad", "products_fts_ai"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS products_fts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_products_search_vector")
        op.execute("ALTER TABLE products DROP COLUMN IF EXISTS search_vector")
