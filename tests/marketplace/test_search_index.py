"""The search index follows the database: every change a transaction commits to a product's
searchable fields is in the next search, across processes sharing one index, after a reseed,
and whichever process writes it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import tantivy
from sqlalchemy import delete, insert, select, update

from marketplace.catalog.models import Product
from marketplace.catalog.query import ProductFilter, SortKey
from marketplace.catalog.search import search_ids
from marketplace.catalog.seed import seed_catalog
from marketplace.catalog.text_index import IndexBusy, ProductIndex, index_location
from marketplace.core.db import Database
from marketplace.core.migrate import upgrade
from tests.conftest import TEST_NOW


def _ids(
    database: Database, index: ProductIndex, *words: str, sort: SortKey = "relevance"
) -> list[int]:
    with database.session() as session:
        return search_ids(
            session, index, ProductFilter(terms=words), sort=sort, limit=100, offset=0
        ).ids


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[Database, Path]]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    database = Database(url)
    seed_catalog(database, products=300, seed=4, now=TEST_NOW)
    location = index_location(url, configured=None, data_dir=tmp_path)
    assert location == tmp_path / "store.db.search-v1"
    yield database, location
    database.dispose()


def test_inserts_updates_and_deletes_reach_the_next_search(store: tuple[Database, Path]) -> None:
    database, location = store
    index = ProductIndex(location)
    assert _ids(database, index, "zanzibarite") == []
    with database.session() as session:
        row = session.execute(select(Product.__table__).where(Product.id == 1)).mappings().one()
        session.execute(
            insert(Product.__table__).values(
                {**row, "id": 10_001, "sku": "NEW-1", "title": "Zanzibarite kettle"}
            )
        )
        session.execute(update(Product).where(Product.id == 2).values(title="Zanzibarite mug"))
    assert sorted(_ids(database, index, "zanzibarite")) == [2, 10_001]
    with database.session() as session:
        session.execute(delete(Product).where(Product.id == 10_001))
        session.execute(update(Product).where(Product.id == 2).values(price=0.5))
    assert _ids(database, index, "zanzibarite") == [2]
    # A product's new price moves it in a price order that its words find.
    with database.session() as session:
        session.execute(update(Product).where(Product.id == 2).values(title="Mug"))
    mugs = _ids(database, index, "mug", sort="price_asc")
    assert mugs[0] == 2


def test_processes_sharing_one_index_see_each_others_work(store: tuple[Database, Path]) -> None:
    database, location = store
    one, other = ProductIndex(location), ProductIndex(location)
    assert _ids(database, one, "wireless") == _ids(database, other, "wireless") != []
    with database.session() as session:
        session.execute(update(Product).where(Product.id == 7).values(title="Quokka lamp"))
    # Whichever catches up first writes; the other reads its commit.
    assert _ids(database, other, "quokka") == [7]
    assert _ids(database, one, "quokka") == [7]
    # A process started later opens what they wrote.
    assert _ids(database, ProductIndex(location), "quokka") == [7]


def test_a_reseeded_catalog_replaces_the_whole_index(store: tuple[Database, Path]) -> None:
    database, location = store
    index = ProductIndex(location)
    before = _ids(database, index, "wireless")
    with database.session() as session:
        session.execute(delete(Product))
    assert _ids(database, index, "wireless") == []
    seed_catalog(database, products=200, seed=5, now=TEST_NOW)
    after = _ids(database, index, "wireless")
    with database.session() as session:
        titles = {
            pid: title.lower() for pid, title in session.execute(select(Product.id, Product.title))
        }
    assert after
    assert after != before
    assert set(after) <= set(titles)
    assert index.documents == len(titles)


def test_a_writer_held_elsewhere_is_waited_for_then_named(store: tuple[Database, Path]) -> None:
    database, location = store
    ProductIndex(location).catch_up(database)
    with database.session() as session:
        session.execute(update(Product).where(Product.id == 3).values(title="Wombat chair"))
    waiting = ProductIndex(location, writer_wait_s=0.3)
    # Another process's writer, as tantivy's lock file shows it.
    holder = tantivy.Index.open(str(location)).writer(heap_size=15_000_000, num_threads=1)
    try:
        with pytest.raises(IndexBusy, match="stayed locked by another process") as busy:
            _ids(database, waiting, "wombat")
        assert busy.value.status == 503
        assert busy.value.headers == {"Retry-After": "60"}
    finally:
        holder.rollback()
        del holder
    assert _ids(database, waiting, "wombat") == [3]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///data/sandbox.db", Path("data/sandbox.db.search-v1")),
        ("sqlite://", None),
        ("postgresql+psycopg://u:p@db:5432/shop", Path("data/search/db-5432-shop-v1")),
    ],
)
def test_the_index_lives_beside_its_database_unless_configured(
    url: str, expected: Path | None
) -> None:
    assert index_location(url, configured=None, data_dir=Path("data")) == expected
    assert index_location(url, configured=Path("/srv/idx"), data_dir=Path("data")) == Path(
        "/srv/idx/v1"
    )
