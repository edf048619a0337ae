"""Apply the Alembic migrations to a database, as `sandbox serve` does on every start."""

from __future__ import annotations

import threading

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from marketplace.core.db import create_null_pool_engine


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "marketplace:migrations")
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


# Alembic's command API keeps its context in module globals: one migration at a time per process.
_ALEMBIC_LOCK = threading.Lock()


def upgrade(url: str) -> None:
    """Bring the database at `url` to the newest schema; a no-op when it is already there."""
    with _ALEMBIC_LOCK:
        command.upgrade(alembic_config(url), "head")


def is_empty(url: str) -> bool:
    """True when the database has no products yet (a fresh install to seed)."""
    engine = create_null_pool_engine(url)
    try:
        if not inspect(engine).has_table("products"):
            return True
        with engine.connect() as conn:
            return conn.exec_driver_sql("SELECT 1 FROM products LIMIT 1").first() is None
    finally:
        engine.dispose()


def downgrade_to_base(url: str) -> None:
    """Drop every table the migrations created (used by `sandbox seed --reset`)."""
    with _ALEMBIC_LOCK:
        command.downgrade(alembic_config(url), "base")
