"""One search contract on every database: SQLite and PostgreSQL answer the same searches alike.

The same seeded catalog is served twice, from SQLite and from PostgreSQL, each with its own
search index built from its own database, and every search below is asked of both over HTTP.
The contract: the same products in the same order, page by page, with the same total,

- by relevance for words alone, words with filters, filters alone, and a query whose words no
  product has together (any word then matches);
- in every explicit sort (price, rating, popularity, newest), with words and without.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from marketplace.app import create_app
from marketplace.core.clock import FrozenClock
from marketplace.core.db import Database
from marketplace.core.settings import Settings
from tests.conftest import ADMIN_TOKEN, CHROME_UA, TEST_CATALOG_SIZE, TEST_NOW, TEST_SEED

pytestmark = pytest.mark.postgres

API = "/api/v1/products"

WORDS = ["headphones", "wireless headphones", "waterproof", "tent", "laptop", "battery"]
FILTERED: list[dict[str, Any]] = [
    {"q": "waterproof", "category": "running-shoes"},
    {"q": "wireless", "min_price": 20, "max_price": 200},
    {"q": "tent", "min_rating": 4.0},
    {"category": "laptops"},
    {"category": "headphones", "min_price": 50},
    {"q": "marmoset headphones"},  # no product has both words: any word matches
]
SORTS = ["price_asc", "price_desc", "rating", "popularity", "newest"]


def _client(tmp_path: Path, url: str, name: str) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path / name,
        database_url=url,
        admin_token=ADMIN_TOKEN,
        secret_key="test-secret-key",
        policy="observe",
        seed=TEST_SEED,
        catalog_size=TEST_CATALOG_SIZE,
    )
    database = Database(settings.resolved_database_url)
    app = create_app(settings, database=database, clock=FrozenClock(TEST_NOW))
    with TestClient(app, headers={"user-agent": CHROME_UA}) as client:
        yield client
    database.dispose()


@pytest.fixture
def both(
    tmp_path: Path, sqlite_template: Path, postgres_server_url: str, postgres_template: str
) -> Iterator[tuple[TestClient, TestClient]]:
    """A TestClient on SQLite and one on PostgreSQL, each over a fresh copy of the catalog."""
    target = tmp_path / "test.db"
    shutil.copyfile(sqlite_template, target)
    admin = create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    name = f"backends_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"'))
    pg_url = f"{postgres_server_url.rpartition('/')[0]}/{name}"
    try:
        sqlite_clients = _client(tmp_path, f"sqlite:///{target}", "sqlite")
        pg_clients = _client(tmp_path, pg_url, "postgres")
        yield next(sqlite_clients), next(pg_clients)
        for rest in (sqlite_clients, pg_clients):
            next(rest, None)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _pages(client: TestClient, **params: Any) -> tuple[list[int], int, bool]:
    """Every organic result id in order, page by page, with the total and all-words flag."""
    ids: list[int] = []
    page, total, all_words = 1, -1, True
    while True:
        response = client.get(API, params={**params, "page": page, "page_size": 50})
        assert response.status_code == 200, response.text
        body = response.json()
        if page == 1:
            total, all_words = body["total"], body["matched_all_words"]
        organic = [item["id"] for item in body["items"] if not item["sponsored"]]
        if not organic:
            return ids, total, all_words
        ids.extend(organic)
        page += 1


@pytest.mark.parametrize("params", [{"q": q} for q in WORDS] + FILTERED)
def test_the_same_products_match_in_the_same_order_on_both_databases(
    both: tuple[TestClient, TestClient], params: dict[str, Any]
) -> None:
    sqlite_client, pg_client = both
    on_sqlite, total_sqlite, all_sqlite = _pages(sqlite_client, **params)
    on_pg, total_pg, all_pg = _pages(pg_client, **params)
    assert on_sqlite, "the search must find something for the comparison to mean anything"
    assert on_sqlite == on_pg
    assert total_sqlite == total_pg == len(on_sqlite)
    assert all_sqlite == all_pg


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("q", [None, "wireless", "waterproof jacket"])
def test_every_sort_gives_the_same_order_on_both_databases(
    both: tuple[TestClient, TestClient], sort: str, q: str | None
) -> None:
    sqlite_client, pg_client = both
    params: dict[str, Any] = {"sort": sort}
    if q is not None:
        params["q"] = q
    else:
        params["category"] = "headphones"
    on_sqlite, total_sqlite, _ = _pages(sqlite_client, **params)
    on_pg, total_pg, _ = _pages(pg_client, **params)
    assert len(on_sqlite) > 5
    assert on_sqlite == on_pg
    assert total_sqlite == total_pg
