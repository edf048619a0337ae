"""Search moves to its own index (tantivy), fed by a log of changed products; the database's own
full-text indexes (SQLite FTS5, PostgreSQL tsvector) go

Triggers log every product inserted, deleted, or updated in a field the index holds, in the
changing transaction. The first row says "the whole catalog" under a new token, so an existing
store's index is built on its first use.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

import runpy
import uuid
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# The update triggers name the fields the search index holds: stock and bids change without
# re-indexing.

SQLITE_TRIGGERS = (
    """
    CREATE TRIGGER product_changes_ai AFTER INSERT ON products BEGIN
        INSERT INTO product_changes (product_id) VALUES (new.id);
    END
    """,
    """
    CREATE TRIGGER product_changes_ad AFTER DELETE ON products BEGIN
        INSERT INTO product_changes (product_id) VALUES (old.id);
    END
    """,
    """
    CREATE TRIGGER product_changes_au AFTER UPDATE OF
        title, brand, description, category_id, price, rating, review_count, created_at
    ON products BEGIN
        INSERT INTO product_changes (product_id) VALUES (new.id);
    END
    """,
)

POSTGRES_FUNCTION = """
CREATE FUNCTION log_product_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO product_changes (product_id) VALUES (OLD.id);
    ELSE
        INSERT INTO product_changes (product_id) VALUES (NEW.id);
    END IF;
    RETURN NULL;
END
$$
"""

POSTGRES_TRIGGERS = (
    "CREATE TRIGGER product_changes_ai AFTER INSERT ON products "
    "FOR EACH ROW EXECUTE FUNCTION log_product_change()",
    "CREATE TRIGGER product_changes_ad AFTER DELETE ON products "
    "FOR EACH ROW EXECUTE FUNCTION log_product_change()",
    "CREATE TRIGGER product_changes_au AFTER UPDATE OF "
    "title, brand, description, category_id, price, rating, review_count, created_at ON products "
    "FOR EACH ROW EXECUTE FUNCTION log_product_change()",
)

_TRIGGERS = ("product_changes_ai", "product_changes_ad", "product_changes_au")


def upgrade() -> None:
    op.create_table(
        "product_changes",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("token", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_product_changes")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_product_changes_product", "product_changes", ["product_id", "seq"])
    op.execute(
        sa.text("INSERT INTO product_changes (product_id, token) VALUES (NULL, :token)").bindparams(
            token=uuid.uuid4().hex
        )
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("products_fts_au", "products_fts_ad", "products_fts_ai"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS products_fts")
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_products_search_vector")
        op.execute("ALTER TABLE products DROP COLUMN IF EXISTS search_vector")
        op.execute(POSTGRES_FUNCTION)
        for trigger in POSTGRES_TRIGGERS:
            op.execute(trigger)
    else:  # pragma: no cover - only the two supported databases
        raise RuntimeError(f"the change log is not implemented for {dialect}")


def downgrade() -> None:
    # The full-text indexes come back as migration 0002 defines them.
    search_0002 = runpy.run_path(str(Path(__file__).with_name("0002_search.py")))
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in _TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute(search_0002["SQLITE_FTS"])
        for trigger in search_0002["SQLITE_TRIGGERS"]:
            op.execute(trigger)
        op.execute("INSERT INTO products_fts(products_fts) VALUES ('rebuild')")
    elif dialect == "postgresql":
        for name in _TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON products")
        op.execute("DROP FUNCTION IF EXISTS log_product_change()")
        op.execute(search_0002["POSTGRES_VECTOR"])
        op.execute(search_0002["POSTGRES_INDEX"])
    op.drop_index("ix_product_changes_product", table_name="product_changes")
    op.drop_table("product_changes")
