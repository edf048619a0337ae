"""Seeded SQLite catalogs shared by the benchmarks, with their search indexes: seed and index
once, reuse by size."""

from __future__ import annotations

import shutil
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from bench.common import SEED, SEEDED_AT, scratch


def catalog_path(products: int) -> Path:
    return scratch("db") / f"catalog-{products}.sqlite"


def _complete_marker(path: Path) -> Path:
    return path.with_suffix(".complete")


def is_complete(path: Path) -> bool:
    return path.exists() and _complete_marker(path).exists()


def mark_complete(path: Path) -> None:
    # Fold the WAL into the file so a plain copy of it is the whole database.
    with closing(sqlite3.connect(path)) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    _complete_marker(path).write_text("seeded\n")


def remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    _complete_marker(path).unlink(missing_ok=True)
    index = _index_directory(path)
    if index is not None:
        shutil.rmtree(index, ignore_errors=True)


def _index_directory(path: Path) -> Path | None:
    from marketplace.catalog.text_index import index_location

    return index_location(f"sqlite:///{path}", configured=None, data_dir=path.parent)


def build_search_index(url: str, *, configured: Path | None = None) -> float:
    """Bring the search index of the catalog at `url` up to date, as a store does when it
    starts; returns the seconds it took (0 when it was current)."""
    from marketplace.catalog.text_index import ProductIndex, index_location
    from marketplace.core.db import Database

    started = time.perf_counter()
    database = Database(url)
    try:
        ProductIndex(index_location(url, configured=configured, data_dir=Path("."))).catch_up(
            database
        )
    finally:
        database.dispose()
    return time.perf_counter() - started


def seed_sqlite(path: Path, products: int) -> Path:
    """Migrate and seed a fresh SQLite catalog (no personas) at `path`."""
    from marketplace.catalog.seed import seed_catalog
    from marketplace.core.db import Database
    from marketplace.core.migrate import upgrade

    remove(path)
    url = f"sqlite:///{path}"
    upgrade(url)
    database = Database(url)
    try:
        seed_catalog(database, products=products, seed=SEED, now=SEEDED_AT)
    finally:
        database.dispose()
    mark_complete(path)
    return path


def sqlite_catalog(products: int) -> Path:
    """The seeded catalog of this size, seeding it when no earlier benchmark left one.

    A reused catalog is brought to the newest schema first, so indexes added by later
    migrations are there (a no-op when it is already current).
    """
    from marketplace.core.migrate import upgrade

    path = catalog_path(products)
    if is_complete(path):
        upgrade(f"sqlite:///{path}")
        mark_complete(path)  # folds what the upgrade wrote into the file, for plain copies
    else:
        seed_sqlite(path, products)
    build_search_index(f"sqlite:///{path}")
    return path


def copy_catalog(products: int, dest: Path) -> Path:
    """A private copy of the catalog of this size, and of its search index, for benchmarks
    that write to it."""
    source = sqlite_catalog(products)
    shutil.copyfile(source, dest)
    index, copy = _index_directory(source), _index_directory(dest)
    if index is not None and copy is not None:
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(index, copy)
    return dest
