"""The catalog: deterministic, realistic generation; product pages; categories; history of views."""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select

from marketplace.accounts.models import Account
from marketplace.catalog import search
from marketplace.catalog import seed as seed_module
from marketplace.catalog.generator import GeneratedProduct, generate_products
from marketplace.catalog.models import Category, Product
from marketplace.catalog.query import ProductFilter
from marketplace.catalog.seed import seed_catalog
from marketplace.catalog.taxonomy import (
    CATEGORIES,
    HOUSE_BRAND,
    PLATFORM_SELLER,
    attribute_specs,
    category_spec,
)
from marketplace.catalog.text_index import ProductIndex, index_location
from marketplace.core.db import Database
from marketplace.core.migrate import upgrade
from marketplace.history.models import HistoryEvent
from tests.conftest import TEST_CATALOG_SIZE, TEST_NOW, register_and_login

SAMPLE = 3000


@pytest.fixture(scope="module")
def sample() -> list[GeneratedProduct]:
    return list(generate_products(SAMPLE, seed=7, now=TEST_NOW))


# --- Generation -----------------------------------------------------------------------------


def test_same_seed_gives_the_same_catalog() -> None:
    first = list(generate_products(400, seed=11, now=TEST_NOW))
    second = list(generate_products(400, seed=11, now=TEST_NOW))
    assert first == second


def test_a_different_seed_gives_a_different_catalog() -> None:
    first = [p.title for p in generate_products(200, seed=11, now=TEST_NOW)]
    other = [p.title for p in generate_products(200, seed=12, now=TEST_NOW)]
    assert sum(a != b for a, b in zip(first, other, strict=True)) > 150


def test_a_bigger_catalog_starts_with_the_smaller_one() -> None:
    small = list(generate_products(50, seed=3, now=TEST_NOW))
    big = list(generate_products(25_000, seed=3, now=TEST_NOW))
    assert big[:50] == small
    assert len({p.sku for p in big}) == len(big)


def test_seeding_twice_with_one_seed_gives_identical_tables(tmp_path: Path) -> None:
    def seeded(name: str) -> list[tuple[object, ...]]:
        url = f"sqlite:///{tmp_path / name}"
        upgrade(url)
        database = Database(url)
        try:
            assert seed_catalog(database, products=250, seed=5, now=TEST_NOW) == 250
            with database.session() as session:
                rows = session.execute(select(Product).order_by(Product.id)).scalars().all()
                return [
                    (p.id, p.sku, p.title, p.price, p.rating, p.stock, p.attributes, p.created_at)
                    for p in rows
                ]
        finally:
            database.dispose()

    assert seeded("a.db") == seeded("b.db")


def _product_rows(database: Database) -> list[tuple[object, ...]]:
    with database.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(select(Product.__table__).order_by(Product.id))]


def _search(database: Database, words: tuple[str, ...]) -> list[int]:
    """The best matches of `words`, from the store's search index (opened as a process would)."""
    index = ProductIndex(index_location(database.url, configured=None, data_dir=Path("unused")))
    with database.session() as session:
        hits = search.search_ids(
            session, index, ProductFilter(terms=words), sort="relevance", limit=40, offset=0
        )
        return hits.ids


def _index_names(database: Database) -> set[str]:
    with database.engine.connect() as conn:
        return {str(ix["name"]) for ix in inspect(conn).get_indexes("products")}


def _fresh_store(path: Path) -> Database:
    upgrade(f"sqlite:///{path}")
    return Database(f"sqlite:///{path}")


@pytest.mark.slow
def test_a_large_seed_gives_the_same_store_as_a_small_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The bulk path (worker processes, secondary indexes rebuilt at the end, search index
    # logged as one change) normally starts at 40,000 products; lowered here.
    products, words = 25_000, [("wireless",), ("tent", "waterproof"), ("nile",), ("espresso",)]
    plain = _fresh_store(tmp_path / "plain.db")
    try:
        seed_catalog(plain, products=products, seed=9, now=TEST_NOW)
        expected = _product_rows(plain), [_search(plain, w) for w in words], _index_names(plain)
    finally:
        plain.dispose()
    monkeypatch.setattr(seed_module, "PARALLEL_THRESHOLD", 10_000)
    bulk = _fresh_store(tmp_path / "bulk.db")
    try:
        seed_catalog(bulk, products=products, seed=9, now=TEST_NOW)
        got = _product_rows(bulk), [_search(bulk, w) for w in words], _index_names(bulk)
    finally:
        bulk.dispose()
    assert got == expected
    assert all(expected[1])
    assert {str(ix.name) for ix in Product.metadata.tables["products"].indexes} <= expected[2]


def test_a_seed_that_fails_leaves_the_store_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "store.db"
    database = _fresh_store(path)
    indexes = _index_names(database)

    def fail(conn: object) -> None:
        raise RuntimeError("interrupted")

    try:
        # The last step of a bulk load: everything before it is written, nothing committed.
        monkeypatch.setattr(seed_module, "PARALLEL_THRESHOLD", 10_000)
        monkeypatch.setattr(seed_module, "_advance_sequences", fail)
        with pytest.raises(RuntimeError, match="interrupted"):
            seed_catalog(database, products=12_000, seed=9, now=TEST_NOW)
        assert _product_rows(database) == []
        assert _index_names(database) == indexes
        assert _search(database, ("wireless",)) == []
        monkeypatch.undo()
        assert seed_catalog(database, products=300, seed=9, now=TEST_NOW) == 300
        assert _search(database, ("wireless",))
    finally:
        database.dispose()


def test_seeding_refuses_a_store_that_already_has_products(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    database = Database(url)
    try:
        seed_catalog(database, products=20, seed=1, now=TEST_NOW)
        with pytest.raises(ValueError, match="already has 20 products"):
            seed_catalog(database, products=20, seed=1, now=TEST_NOW)
    finally:
        database.dispose()


def test_every_category_has_several_brands_including_the_house_brand(
    sample: list[GeneratedProduct],
) -> None:
    assert len(CATEGORIES) >= 12
    brands: dict[str, set[str]] = defaultdict(set)
    for product in sample:
        brands[product.category_slug].add(product.brand)
    assert set(brands) == {spec.slug for spec in CATEGORIES}
    for slug, names in brands.items():
        assert len(names) >= 3, slug
        assert HOUSE_BRAND in names, slug


def test_every_category_spreads_its_prices_at_least_fivefold(
    sample: list[GeneratedProduct],
) -> None:
    prices: dict[str, list[float]] = defaultdict(list)
    for product in sample:
        prices[product.category_slug].append(product.price)
    for slug, values in prices.items():
        assert max(values) / min(values) >= 5, slug
        # Skewed: most listings are in the cheaper half of the range.
        assert statistics.median(values) < statistics.mean(values), slug


def test_every_product_has_the_attributes_of_its_category(
    sample: list[GeneratedProduct],
) -> None:
    for product in sample:
        specs = attribute_specs(product.category_slug)
        assert set(product.attributes) == {s.key for s in specs}, product.title
        for spec in specs:
            value = product.attributes[spec.key]
            if spec.kind == "bool":
                assert isinstance(value, bool)
            elif spec.kind == "choice":
                assert value in spec.choices
            elif spec.kind == "int":
                assert isinstance(value, int)
                assert not isinstance(value, bool)
            else:
                assert isinstance(value, float)


def test_better_attributes_cost_more(sample: list[GeneratedProduct]) -> None:
    def mean_by_price_half(slug: str, key: str) -> tuple[float, float]:
        items = sorted((p for p in sample if p.category_slug == slug), key=lambda p: p.price)
        half = len(items) // 2
        cheap = statistics.mean(float(p.attributes[key]) for p in items[:half])
        dear = statistics.mean(float(p.attributes[key]) for p in items[half:])
        return cheap, dear

    cheap, dear = mean_by_price_half("laptops", "ram_gb")
    assert dear > cheap
    cheap, dear = mean_by_price_half("headphones", "noise_cancelling")
    assert dear > cheap
    cheap, dear = mean_by_price_half("tents", "waterproof_mm")
    assert dear > cheap


def test_ratings_reviews_stock_sellers_and_bids_look_like_a_real_store(
    sample: list[GeneratedProduct],
) -> None:
    ratings = [p.rating for p in sample]
    assert all(1.0 <= r <= 5.0 for r in ratings)
    assert 3.9 <= statistics.median(ratings) <= 4.6
    assert any(r < 3.0 for r in ratings), "some products should be bad"
    reviews = sorted(p.review_count for p in sample)
    assert reviews[-1] > 20 * statistics.median(reviews), "review counts should be heavy-tailed"
    assert any(p.stock == 0 for p in sample)
    assert any(p.stock > 50 for p in sample)
    assert 0.6 < sum(p.sponsored_bid == 0 for p in sample) / len(sample) < 0.97
    for product in sample:
        assert 0 < product.cost < product.price
        if product.is_house_brand:
            assert (product.seller, product.seller_type) == (PLATFORM_SELLER, "platform")
    assert {p.seller_type for p in sample} == {"platform", "third-party"}


def test_titles_read_like_listings(sample: list[GeneratedProduct]) -> None:
    for product in sample[:200]:
        assert product.title.startswith(product.brand + " ")
        assert len(product.title) <= 300
        assert len(product.description) > 80
    headphones = next(p for p in sample if p.category_slug == "headphones")
    assert "Headphones" in headphones.title


def test_category_spec_names_the_valid_slugs() -> None:
    assert category_spec("tents").noun == "Tent"
    with pytest.raises(ValueError, match="valid categories: headphones"):
        category_spec("spaceships")


# --- HTTP -----------------------------------------------------------------------------------


def test_categories_list_every_category_with_counts(client: TestClient) -> None:
    response = client.get("/api/v1/categories")
    assert response.status_code == 200
    body = response.json()
    slugs = [item["slug"] for item in body["items"]]
    assert slugs == [spec.slug for spec in CATEGORIES]
    assert body["total"] == len(CATEGORIES)
    assert all(item["product_count"] > 0 for item in body["items"])
    assert sum(item["product_count"] for item in body["items"]) == TEST_CATALOG_SIZE
    tents = next(item for item in body["items"] if item["slug"] == "tents")
    assert tents["name"] == "Tents"


def test_product_detail_shows_what_a_shopper_needs(client: TestClient) -> None:
    response = client.get("/api/v1/products/1")
    assert response.status_code == 200
    body = response.json()
    for key in (
        "id", "title", "brand", "category", "price", "stock", "attributes", "seller",
        "seller_type", "rating", "review_count", "description",
    ):  # fmt: skip
        assert key in body, key
    assert body["id"] == 1
    specs = attribute_specs(body["category"])
    assert set(body["attributes"]) == {s.key for s in specs}
    assert [s["key"] for s in body["specifications"]] == [s.key for s in specs]
    # The platform's private numbers are never served.
    assert "cost" not in body
    assert "sponsored_bid" not in body


def test_a_wired_headphone_shows_no_battery_life(client: TestClient, database: Database) -> None:
    with database.session() as session:
        wired = session.scalars(
            select(Product.id)
            .join(Category, Category.id == Product.category_id)
            .where(Category.slug == "headphones")
            .where(Product.attributes["wireless"].as_boolean().is_(False))
            .limit(1)
        ).one()
    body = client.get(f"/api/v1/products/{wired}").json()
    assert body["attributes"]["battery_hours"] == 0
    battery = next(s for s in body["specifications"] if s["key"] == "battery_hours")
    assert battery["value"] is None
    page = client.get(f"/products/{wired}", headers={"accept": "text/html"}).text
    assert "Battery life" not in page


def test_unknown_product_is_a_404_naming_the_id(client: TestClient) -> None:
    response = client.get("/api/v1/products/987654")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert "987654" in body["detail"]
    assert body["product_id"] == 987654


def test_a_product_id_that_is_not_a_number_is_a_422(client: TestClient) -> None:
    response = client.get("/api/v1/products/abc")
    assert response.status_code == 422
    assert "product_id" in response.json()["detail"]


def test_a_product_view_is_recorded_for_the_logged_in_shopper(
    client: TestClient, database: Database
) -> None:
    token = register_and_login(client, "viewer@example.com")
    response = client.get("/api/v1/products/7", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    with database.session() as session:
        events = session.scalars(
            select(HistoryEvent)
            .join(Account, Account.id == HistoryEvent.account_id)
            .where(Account.email == "viewer@example.com", HistoryEvent.kind == "view")
        ).all()
        category = session.scalar(
            select(Category.slug)
            .join(Product, Product.category_id == Category.id)
            .where(Product.id == 7)
        )
    assert [e.product_id for e in events] == [7]
    assert events[0].category_slug == category
    assert events[0].created_at == TEST_NOW


def test_an_anonymous_view_is_recorded_under_the_session(
    client: TestClient, database: Database
) -> None:
    assert client.get("/api/v1/products/3").status_code == 200
    assert client.get("/api/v1/products/4").status_code == 200
    with database.session() as session:
        events = session.scalars(
            select(HistoryEvent)
            .where(HistoryEvent.kind == "view", HistoryEvent.account_id.is_(None))
            .where(HistoryEvent.created_at == TEST_NOW)
            .order_by(HistoryEvent.id)
        ).all()
    assert [e.product_id for e in events] == [3, 4]
    assert events[0].session_key
    assert events[0].session_key == events[1].session_key


def test_catalog_routes_are_documented(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/products", "/api/v1/products/{product_id}", "/api/v1/categories"):
        operation = paths[path]["get"]
        assert operation.get("summary"), path
        assert operation.get("description"), path
