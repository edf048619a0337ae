"""Search over HTTP: relevance, filters, sorts, pagination, hostile queries, ads and history."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from marketplace.catalog import text_index
from marketplace.catalog.models import AdImpression, Category, Product
from marketplace.core.db import Database
from marketplace.history.models import HistoryEvent
from tests.conftest import TEST_NOW, register_and_login

API = "/api/v1/products"


def search(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get(API, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def organic(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for item in body["items"] if not item["sponsored"]]


def set_text(database: Database, product_id: int, **values: str) -> None:
    with database.session() as session:
        session.execute(update(Product).where(Product.id == product_id).values(**values))


def field_of(database: Database, product_id: int, column: str) -> Any:
    with database.session() as session:
        return session.scalar(select(getattr(Product, column)).where(Product.id == product_id))


# --- Relevance ------------------------------------------------------------------------------


def test_a_word_in_a_title_finds_its_product_first(client: TestClient, database: Database) -> None:
    title = field_of(database, 42, "title")
    set_text(database, 42, title=f"{title} Zanzibarite Edition")
    body = search(client, q="zanzibarite")
    assert [item["id"] for item in organic(body)] == [42]
    assert body["total"] == 1
    assert body["sort"] == "relevance"
    assert body["query_terms"] == ["zanzibarite"]


def test_a_title_match_ranks_above_a_description_match(
    client: TestClient, database: Database
) -> None:
    set_text(database, 10, description=field_of(database, 10, "description") + " Quokka approved.")
    set_text(database, 20, title=field_of(database, 20, "title") + " Quokka")
    body = search(client, q="quokka")
    assert [item["id"] for item in organic(body)] == [20, 10]


def test_every_word_of_the_query_must_match(client: TestClient, database: Database) -> None:
    set_text(database, 5, title=field_of(database, 5, "title") + " Marmoset")
    set_text(database, 6, title=field_of(database, 6, "title") + " Marmoset Tamarin")
    assert [i["id"] for i in organic(search(client, q="marmoset tamarin"))] == [6]
    assert {i["id"] for i in organic(search(client, q="marmoset"))} == {5, 6}


def test_when_no_product_has_every_word_any_word_matches(
    client: TestClient, database: Database
) -> None:
    set_text(database, 5, title=field_of(database, 5, "title") + " Marmoset")
    set_text(database, 6, title=field_of(database, 6, "title") + " Marmoset Tamarin")
    exact = search(client, q="marmoset tamarin")
    assert exact["matched_all_words"] is True
    relaxed = search(client, q="marmoset quokka")
    assert relaxed["matched_all_words"] is False
    assert {i["id"] for i in organic(relaxed)} == {5, 6}
    assert search(client, q="quokka wallaby")["total"] == 0


def test_plural_and_singular_forms_match(client: TestClient) -> None:
    plural = search(client, q="tents", page_size=100)
    singular = search(client, q="tent", page_size=100)
    assert plural["total"] > 0
    assert plural["total"] == singular["total"]


def test_decimals_and_hyphenated_words_match_alike_on_both_databases(
    client: TestClient, database: Database
) -> None:
    set_text(database, 12, title=field_of(database, 12, "title") + " Wombat 47.9-litre")
    assert [i["id"] for i in organic(search(client, q="wombat 47.9 litre"))] == [12]
    assert [i["id"] for i in organic(search(client, q="wombat-47"))] == [12]
    with database.session() as session:
        hyphenated = set(
            session.scalars(select(Product.id).where(Product.title.like("%Noise-Cancelling%")))
        )
    assert hyphenated
    found = {i["id"] for i in organic(search(client, q="noise cancelling", page_size=100))}
    assert hyphenated <= found


def test_searching_a_category_word_finds_that_category(client: TestClient) -> None:
    body = search(client, q="wireless headphones", page_size=50)
    assert body["total"] > 0
    assert all(item["category"] == "headphones" for item in organic(body))
    assert all("Wireless" in item["title"] for item in organic(body))


def test_changing_stock_or_price_keeps_the_product_findable(
    client: TestClient, database: Database
) -> None:
    set_text(database, 30, title=field_of(database, 30, "title") + " Okapi")
    with database.session() as session:
        session.execute(update(Product).where(Product.id == 30).values(stock=0, price=12.5))
    body = search(client, q="okapi")
    assert [(i["id"], i["stock"], i["price"]) for i in organic(body)] == [(30, 0, 12.5)]


# --- Filters, sorts, pagination -------------------------------------------------------------


def test_filters_narrow_the_results(client: TestClient) -> None:
    body = search(
        client, category="laptops", min_price=400, max_price=1500, min_rating=4, page_size=100
    )
    items = organic(body)
    assert items
    assert body["total"] == len(items)
    for item in items:
        assert item["category"] == "laptops"
        assert 400 <= item["price"] <= 1500
        assert item["rating"] >= 4
    for item in body["items"]:  # ads obey the filters too
        assert item["category"] == "laptops"


def test_a_category_search_counts_what_the_category_list_says(client: TestClient) -> None:
    counts = {
        c["slug"]: c["product_count"] for c in client.get("/api/v1/categories").json()["items"]
    }
    for slug in ("tents", "phone-cases"):
        assert search(client, category=slug)["total"] == counts[slug]


@pytest.mark.parametrize(
    ("sort", "key", "descending"),
    [("price_asc", "price", False), ("price_desc", "price", True), ("rating", "rating", True)],
)
def test_sorts_order_the_organic_results(
    client: TestClient, sort: str, key: str, descending: bool
) -> None:
    body = search(client, category="headphones", sort=sort, page_size=100)
    values = [item[key] for item in organic(body)]
    assert len(values) > 5
    assert values == sorted(values, reverse=descending)


def test_without_a_query_the_most_reviewed_come_first(client: TestClient) -> None:
    body = search(client, page_size=50)
    assert body["sort"] == "popularity"
    reviews = [item["review_count"] for item in organic(body)]
    assert reviews == sorted(reviews, reverse=True)


def test_relevance_with_a_query_can_be_replaced_by_a_price_sort(client: TestClient) -> None:
    body = search(client, q="backpack", sort="price_asc", page_size=100)
    prices = [item["price"] for item in organic(body)]
    assert prices == sorted(prices)


def test_pages_cover_every_result_once(client: TestClient) -> None:
    first = search(client, q="headphones", page_size=7)
    total = first["total"]
    assert total > 14
    seen: list[int] = []
    page = 1
    while True:
        body = search(client, q="headphones", page_size=7, page=page)
        assert body["total"] == total
        assert body["page"] == page
        assert body["page_size"] == 7
        items = organic(body)
        if not items:
            break
        assert len(items) <= 7
        seen.extend(item["id"] for item in items)
        page += 1
    assert len(seen) == total
    assert len(set(seen)) == total


def test_a_page_past_the_end_is_empty_without_ads(client: TestClient) -> None:
    body = search(client, q="tent", page=500)
    assert body["items"] == []
    assert body["total"] > 0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page_size": 101}, "page_size"),
        ({"page_size": 0}, "page_size"),
        ({"page": 0}, "page"),
        ({"sort": "cheapest"}, "sort"),
        ({"min_rating": 6}, "min_rating"),
        ({"min_price": -1}, "min_price"),
        ({"q": "x" * 201}, "q"),
        ({"min_price": 50, "max_price": 10}, "min_price"),
    ],
)
def test_bad_parameters_are_a_422_naming_the_field(
    client: TestClient, params: dict[str, Any], field: str
) -> None:
    response = client.get(API, params=params)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert field in body["detail"]
    assert body["errors"][0]["field"] == field


def test_the_largest_page_size_is_allowed(client: TestClient) -> None:
    body = search(client, page_size=100)
    assert len(organic(body)) == 100


def test_an_unknown_category_is_a_422_listing_the_valid_ones(client: TestClient) -> None:
    response = client.get(API, params={"category": "spaceships"})
    assert response.status_code == 422
    body = response.json()
    assert "category" in body["detail"]
    assert "spaceships" in body["detail"]
    assert "running-shoes" in body["detail"]
    assert body["errors"][0]["field"] == "category"
    assert "headphones" in body["valid_categories"]


@pytest.mark.parametrize(
    "q",
    [
        '"',
        '"unbalanced quote',
        "*",
        "head*",
        "NEAR(wireless headphones, 2)",
        "wireless NEAR headphones",
        "AND OR NOT",
        "title:tent",
        "^tent",
        "(((",
        "-tent +laptop",
        "'; DROP TABLE products; --",
        "tent & | ! :*",
        "héadphönes café",
        "耳机 无线",
        "🎧🎧",
        "\\",
        "%_%",
        "   ",
        "x" * 200,
        "a " * 60,
        "tent\x00laptop",
        "\x00",
        "tab\tnew\nline",
    ],
)
def test_hostile_or_odd_queries_never_fail(client: TestClient, q: str) -> None:
    response = client.get(API, params={"q": q})
    assert response.status_code == 200, response.text
    assert isinstance(response.json()["items"], list)


@pytest.mark.parametrize("category", ["tents\x00", "TENTS ", "../etc", "'; --"])
def test_odd_category_values_are_answered_not_crashed_on(client: TestClient, category: str) -> None:
    response = client.get(API, params={"category": category})
    assert response.status_code in (200, 422), response.text
    if category.strip().lower() == "tents":
        assert response.status_code == 200


def test_search_syntax_is_treated_as_plain_words(client: TestClient) -> None:
    plain = search(client, q="wireless headphones")
    syntax = search(client, q='"wireless" AND headphones*')
    assert syntax["total"] == plain["total"]


# --- Ranking in two steps, capped counts ----------------------------------------------------


def all_pages(client: TestClient, **params: Any) -> list[int]:
    ids: list[int] = []
    page = 1
    while True:
        items = organic(search(client, page=page, page_size=7, **params))
        if not items:
            return ids
        ids.extend(item["id"] for item in items)
        page += 1


@pytest.mark.parametrize(
    "params",
    [
        {"q": "headphones"},
        {"q": "wireless headphones"},
        {"q": "waterproof", "min_price": 20, "max_price": 200},
        # Words most common in other categories: few of the best matches pass the filter.
        {"q": "waterproof", "category": "running-shoes"},
        {"q": "battery", "category": "kids-toys"},
        {"q": "tent", "min_rating": 4.5},
        {"q": "marmoset headphones"},  # no product has both: any word matches
    ],
)
def test_a_small_ranked_window_gives_the_same_pages_as_ranking_every_match(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, params: dict[str, Any]
) -> None:
    monkeypatch.setattr(text_index, "RANK_WINDOW", 1_000_000)
    expected = all_pages(client, **params)
    first = search(client, page_size=7, **params)
    # A window of 10 rows: pages deeper than it widen it, and ties in score at its edge are
    # all read, so every page is the same.
    monkeypatch.setattr(text_index, "RANK_WINDOW", 10)
    assert expected
    assert all_pages(client, **params) == expected
    again = search(client, page_size=7, **params)
    assert again["total"] == first["total"] == len(expected)
    assert again["matched_all_words"] == first["matched_all_words"]


def test_ads_of_a_ranked_page_are_the_best_bidders_among_the_matches(
    client: TestClient, database: Database
) -> None:
    matches = all_pages(client, q="headphones")
    body = search(client, q="headphones", page_size=10)
    ads = [item["id"] for item in body["items"] if item["sponsored"]]
    with database.session() as session:
        rows = session.execute(
            select(Product.id, Product.sponsored_bid).where(
                Product.id.in_(matches), Product.sponsored_bid > 0, Product.stock > 0
            )
        ).all()
    bids = {row[0]: row[1] for row in rows}
    assert len(ads) == 2
    assert [bids[pid] for pid in ads] == sorted(bids.values(), reverse=True)[:2]


@pytest.mark.parametrize(
    "params",
    [
        {"q": "headphones", "max_price": 10_000, "sort": "price_asc"},
        {"q": "headphones", "sort": "newest"},
        {"q": "waterproof", "category": "running-shoes", "sort": "rating"},
        {"category": "headphones", "max_price": 10_000, "sort": "price_asc"},
    ],
)
def test_every_total_is_exact_whatever_the_order(
    client: TestClient, params: dict[str, Any]
) -> None:
    first = search(client, page_size=5, **params)
    assert first["total"] == len(all_pages(client, **params)) > 5
    assert first["total_is_lower_bound"] is False


@pytest.mark.parametrize("q", [None, "wireless"])
@pytest.mark.parametrize("sort", ["newest", "popularity", "rating", "price_desc"])
def test_every_sort_orders_with_and_without_words(
    client: TestClient, database: Database, q: str | None, sort: str
) -> None:
    params: dict[str, Any] = {"sort": sort, "page_size": 30}
    if q:
        params["q"] = q
    items = organic(search(client, **params))
    assert len(items) > 5
    with database.session() as session:
        rows = session.execute(
            select(Product.id, Product.created_at).where(Product.id.in_([i["id"] for i in items]))
        ).all()
    created = {row[0]: row[1] for row in rows}
    keys = {
        "newest": lambda i: (-created[i["id"]].timestamp(), i["id"]),
        "popularity": lambda i: (-i["review_count"], -i["rating"], i["id"]),
        "rating": lambda i: (-i["rating"], -i["review_count"], i["id"]),
        "price_desc": lambda i: (-i["price"], i["id"]),
    }
    assert items == sorted(items, key=keys[sort])


def test_the_models_declare_the_product_indexes_the_migrations_create(
    database: Database,
) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from marketplace.models import Base

    with database.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    # The full-text index (PostgreSQL's GIN over the generated vector) lives in migrations only.
    index_ops = [
        op
        for op in diff
        if op[0] in ("add_index", "remove_index") and op[1].name != "ix_products_search_vector"
    ]
    assert index_ops == []


# --- Sponsored listings ---------------------------------------------------------------------


def test_sponsored_products_fill_marked_slots_and_each_one_is_counted(
    client: TestClient, database: Database
) -> None:
    with database.session() as session:
        before = session.scalar(select(func.count()).select_from(AdImpression))
    response = client.get(API, params={"category": "headphones", "page_size": 10})
    assert response.status_code == 200
    body = response.json()
    items = body["items"]
    sponsored_positions = [n for n, item in enumerate(items, start=1) if item["sponsored"]]
    assert sponsored_positions == [1, 4]
    assert len(organic(body)) == 10
    visitor_class = response.headers.get("x-visitor-class", "human")
    with database.session() as session:
        impressions = session.scalars(
            select(AdImpression).order_by(AdImpression.id).offset(before or 0)
        ).all()
        bid_rows = session.execute(
            select(Product.id, Product.sponsored_bid).where(
                Product.id.in_([i["id"] for i in items])
            )
        ).all()
    bids = {row[0]: row[1] for row in bid_rows}
    assert [(i.product_id, i.position) for i in impressions] == [
        (items[0]["id"], 1),
        (items[3]["id"], 4),
    ]
    for impression in impressions:
        assert impression.visitor_class == visitor_class
        assert impression.placement == "search"
        assert impression.session_key
        assert impression.created_at == TEST_NOW
        assert impression.bid == bids[impression.product_id] > 0


def test_ads_match_the_query(client: TestClient, database: Database) -> None:
    with database.session() as session:
        advertiser, bystander = session.scalars(
            select(Product.id)
            .where(Product.sponsored_bid > 0, Product.stock > 0)
            .order_by(Product.id)
            .limit(2)
        ).all()
    other = next(pid for pid in range(1, 50) if pid not in (advertiser, bystander))
    with database.session() as session:
        session.execute(update(Product).where(Product.id == other).values(sponsored_bid=0))
    for pid in (advertiser, other):
        set_text(database, pid, title=field_of(database, pid, "title") + " Pangolin")
    body = search(client, q="pangolin")
    ads = [item["id"] for item in body["items"] if item["sponsored"]]
    assert ads == [advertiser]
    assert body["items"][0]["sponsored"]
    assert {item["id"] for item in organic(body)} == {advertiser, other}


def test_impressions_record_the_logged_in_account_and_the_visitor_class(
    client: TestClient, database: Database
) -> None:
    token = register_and_login(client, "adviewer@example.com")
    response = client.get(
        API, params={"category": "phone-cases"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    served = [item["id"] for item in response.json()["items"] if item["sponsored"]]
    assert served
    with database.session() as session:
        rows = session.execute(
            select(AdImpression.product_id, AdImpression.visitor_class, AdImpression.account_id)
            .where(AdImpression.account_id.is_not(None))
            .order_by(AdImpression.id)
        ).all()
    assert [r.product_id for r in rows] == served
    assert {r.visitor_class for r in rows} == {response.headers.get("x-visitor-class", "human")}


def test_a_search_without_ads_records_no_impressions(
    client: TestClient, database: Database
) -> None:
    set_text(database, 1, title=field_of(database, 1, "title") + " Axolotl")
    with database.session() as session:
        session.execute(update(Product).where(Product.id == 1).values(sponsored_bid=0))
        before = session.scalar(select(func.count()).select_from(AdImpression))
    body = search(client, q="axolotl")
    assert [item["sponsored"] for item in body["items"]] == [False]
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(AdImpression)) == before


# --- History --------------------------------------------------------------------------------


def test_a_search_is_recorded_in_the_shoppers_history(
    client: TestClient, database: Database
) -> None:
    token = register_and_login(client, "searcher@example.com")
    response = client.get(
        API,
        params={"q": "trail running shoes", "category": "running-shoes", "max_price": 120},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    with database.session() as session:
        event = session.scalars(
            select(HistoryEvent)
            .where(HistoryEvent.kind == "search", HistoryEvent.account_id.is_not(None))
            .where(HistoryEvent.query == "trail running shoes")
        ).one()
        slugs = set(session.scalars(select(Category.slug)))
    assert event.category_slug == "running-shoes"
    assert event.filters == {"category": "running-shoes", "max_price": 120.0}
    assert event.created_at == TEST_NOW
    assert "running-shoes" in slugs


def test_a_refused_search_records_nothing(client: TestClient, database: Database) -> None:
    with database.session() as session:
        before = session.scalar(select(func.count()).select_from(HistoryEvent))
    assert client.get(API, params={"category": "nope"}).status_code == 422
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(HistoryEvent)) == before
