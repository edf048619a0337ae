"""The seeded personas: accounts with plausible, deterministic histories and a hidden profile."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from marketplace.accounts.models import Account
from marketplace.catalog.models import Category, Product
from marketplace.catalog.seed import seed_catalog
from marketplace.catalog.taxonomy import CATEGORY_SLUGS, attribute_specs
from marketplace.core.db import Base, Database
from marketplace.core.migrate import upgrade
from marketplace.core.yamlfile import YamlModelError
from marketplace.history.models import HistoryEvent
from marketplace.orders.models import Order
from sandbox.persona import PERSONA_PASSWORD, Persona, Personas, load_personas
from sandbox.seeding import seed_personas
from sandbox.utility import ProductTraits, rank, utility
from tests.conftest import TEST_CATALOG_SIZE, TEST_NOW, TEST_SEED

BUILTIN: Personas = load_personas()
PERSONAS = BUILTIN.members

# Words only the hidden profile uses; none may ever reach the platform or its responses.
PROFILE_WORDS = (
    "price_sensitivity",
    "quality_sensitivity",
    "attribute_weights",
    "brand_loyalty",
    "brand_aversion",
    "favourite_brands",
    "avoided_brands",
    "PreferenceProfile",
    "AttributePreference",
)


def login(client: TestClient, who: Persona) -> dict[str, str]:
    response = client.post(
        "/api/v1/sessions", json={"email": who.email, "password": PERSONA_PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def all_history(client: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    page = 1
    while True:
        body = client.get(
            "/api/v1/me/history", params={"page": page, "page_size": 100}, headers=headers
        ).json()
        events.extend(body["items"])
        if len(events) >= body["total"]:
            return events
        page += 1


def test_at_least_six_distinct_personas_with_a_complete_profile() -> None:
    assert len(PERSONAS) >= 6
    assert len({p.key for p in PERSONAS}) == len({p.email for p in PERSONAS}) == len(PERSONAS)
    keys = {p.key for p in PERSONAS}
    assert {
        "student",
        "audiophile",
        "outdoor-family",
        "home-office",
        "gift-buyer",
        "brand-loyalist",
    } <= keys
    for who in PERSONAS:
        assert who.email.endswith("@personas.nile.test")
        assert who.password == PERSONA_PASSWORD
        assert set(who.interests) <= set(CATEGORY_SLUGS), who.key
        for slug in who.interests:
            assert who.query_for(slug), (who.key, slug)
            assert who.profile.budgets.get(slug, 0) > 0, (who.key, slug)
            known = {spec.key for spec in attribute_specs(slug)}
            weights = who.profile.attribute_weights.get(slug, {})
            assert weights, (who.key, slug)
            assert set(weights) <= known, (who.key, slug, set(weights) - known)
        assert 0 <= who.profile.price_sensitivity <= 1
        assert 0 <= who.profile.quality_sensitivity <= 1
    # The personas disagree: not everyone is shopping for the same thing.
    assert len({p.main_category for p in PERSONAS}) >= 5


PERSONA_FILE = """\
personas:
  - key: tester
    name: Tess Ter
    summary: Shops for headphones.
    interests: [headphones]
    queries: {headphones: quiet headphones}
    profile:
      price_sensitivity: 0.5
      quality_sensitivity: 0.5
      budgets: {headphones: 80.0}
      attribute_weights:
        headphones:
          form: {weight: 0.5, target: in-ear}
"""


def test_a_persona_file_loads_into_the_models(tmp_path: Path) -> None:
    path = tmp_path / "people.yaml"
    path.write_text(PERSONA_FILE)
    loaded = load_personas(path)
    assert loaded.keys == ["tester"]
    tester = loaded.find("tester@personas.nile.test")
    assert tester.orders == 2
    assert tester.profile.attribute_weights["headphones"]["form"].target == "in-ear"
    assert loaded.is_persona_email("Tester@Personas.Nile.Test")
    assert not loaded.is_persona_email("student@personas.nile.test")


@pytest.mark.parametrize(
    ("change", "field", "line", "message"),
    [
        (("budgets: {headphones: 80.0}", "budgets: {headphones: 0}"), "budgets", 10, "above 0"),
        (("interests: [headphones]", "interests: [hats]"), "interests", 5, "unknown category"),
        (("form: {weight", "colour: {weight"), "attribute_weights", 11, "no attribute 'colour'"),
        (("target: in-ear", "target: sideways"), "attribute_weights", 11, "not one of"),
        (("price_sensitivity: 0.5", "price_sensitivity: 2"), "price_sensitivity", 8, "1"),
        (("name: Tess Ter", "nmae: Tess Ter"), "nmae", 3, "not a known field"),
    ],
)
def test_a_bad_persona_file_names_the_file_line_and_field(
    tmp_path: Path, change: tuple[str, str], field: str, line: int, message: str
) -> None:
    path = tmp_path / "people.yaml"
    path.write_text(PERSONA_FILE.replace(*change))
    with pytest.raises(YamlModelError) as caught:
        load_personas(path)
    text = str(caught.value)
    assert str(path) in text
    assert all(p.field.startswith("personas.0.") for p in caught.value.problems)
    [problem] = [p for p in caught.value.problems if p.field.endswith(field)]
    assert problem.line == line, problem
    assert message in problem.message


def test_persona_keys_are_distinct(tmp_path: Path) -> None:
    path = tmp_path / "people.yaml"
    twice = PERSONA_FILE + PERSONA_FILE.removeprefix("personas:\n")
    path.write_text(twice)
    with pytest.raises(YamlModelError, match="repeated: tester"):
        load_personas(path)


def test_persona_lookup_by_key_or_email() -> None:
    assert BUILTIN.find("student") is BUILTIN.find("Student@Personas.Nile.Test")
    with pytest.raises(KeyError, match="audiophile"):
        BUILTIN.find("nobody")


def test_personas_log_in_and_have_plausible_histories(client: TestClient) -> None:
    window_start = TEST_NOW - timedelta(days=31)
    for who in PERSONAS:
        headers = login(client, who)
        events = all_history(client, headers)
        kinds = [e["kind"] for e in events]
        assert {"search", "view", "cart_add", "purchase"} <= set(kinds), who.key
        assert all(window_start <= _time(e) <= TEST_NOW for e in events), who.key

        searches = [e for e in events if e["kind"] == "search"]
        assert who.query_for(who.main_category) in {e["query"] for e in searches}
        main_views = [
            e for e in events if e["kind"] == "view" and e["category"] == who.main_category
        ]
        assert len(main_views) >= 6, who.key
        assert len({e["product_id"] for e in main_views}) >= 4, who.key
        # The decision in progress is recent: the main category was looked at in the last days.
        assert max(_time(e) for e in main_views) >= TEST_NOW - timedelta(days=1)

        orders = client.get("/api/v1/orders", headers=headers).json()
        assert orders["total"] >= 1, who.key
        bought = {i["product_id"] for o in orders["items"] for i in o["items"]}
        assert bought == {e["product_id"] for e in events if e["kind"] == "purchase"}
        assert all(o["channel"] == "human" for o in orders["items"])  # seeded as shoppers
        assert client.get("/api/v1/cart", headers=headers).json()["items"] == []


def _time(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["created_at"].replace("Z", "+00:00"))


def test_browsing_follows_the_hidden_profile(client: TestClient, database: Database) -> None:
    """What a persona looked at suits it better than the average product of the category."""
    with database.session() as session:
        rows = session.execute(select(Product, Category.slug).join(Category)).all()
        facts = {p.id: ProductTraits.from_row(p, slug) for p, slug in rows}
    for who in PERSONAS:
        events = all_history(client, login(client, who))
        viewed = {
            e["product_id"]
            for e in events
            if e["kind"] == "view" and e["category"] == who.main_category
        }
        category = [f for f in facts.values() if f.category == who.main_category]
        mean_all = sum(utility(who.profile, f) for f in category) / len(category)
        mean_viewed = sum(utility(who.profile, facts[i]) for i in viewed) / len(viewed)
        assert mean_viewed > mean_all, who.key


def test_utility_is_the_ground_truth(client: TestClient, database: Database) -> None:
    student, loyalist = BUILTIN.find("student"), BUILTIN.find("brand-loyalist")
    base = ProductTraits(
        id=1,
        category="headphones",
        brand="Vireo",
        price=50.0,
        rating=4.2,
        review_count=300,
        attributes={
            "form": "in-ear",
            "wireless": True,
            "noise_cancelling": False,
            "battery_hours": 30,
            "weight_g": 60,
            "driver_mm": 10,
        },
    )

    def variant(**changes: Any) -> ProductTraits:
        values = {**base.__dict__, **changes}
        return ProductTraits(**values)

    u = utility(student.profile, base)
    assert utility(student.profile, variant(price=150.0)) < u
    assert utility(student.profile, variant(attributes={**base.attributes, "wireless": False})) < u
    assert utility(student.profile, variant(rating=2.5)) < u
    assert utility(loyalist.profile, variant(brand="Aurelo")) > utility(loyalist.profile, base)
    # Different people, different favourites among the same products.
    with database.session() as session:
        rows = session.execute(
            select(Product, Category.slug).join(Category).where(Category.slug == "headphones")
        ).all()
    products = [ProductTraits.from_row(p, slug) for p, slug in rows]
    assert (
        rank(BUILTIN.find("student").profile, products)[0].id
        != rank(BUILTIN.find("audiophile").profile, products)[0].id
    )
    # The API's product JSON scores exactly like the table row.
    api_product = client.get(f"/api/v1/products/{products[0].id}").json()
    assert utility(student.profile, api_product) == utility(student.profile, products[0])


def test_the_hidden_profile_is_never_served_or_stored(
    client: TestClient, database: Database
) -> None:
    responses: list[str] = [client.get("/openapi.json").text]
    for who in PERSONAS:
        headers = login(client, who)
        responses.append(client.get("/api/v1/me", headers=headers).text)
        responses.append(client.get("/api/v1/cart", headers=headers).text)
        orders = client.get("/api/v1/orders", headers=headers)
        responses.append(orders.text)
        for order in orders.json()["items"]:
            responses.append(client.get(f"/api/v1/orders/{order['id']}", headers=headers).text)
        responses.append(str(all_history(client, headers)))
        responses.append(
            client.get(
                "/api/v1/products", params={"q": who.query_for(who.main_category)}, headers=headers
            ).text
        )
        decide = client.post(
            "/api/v1/help-me-decide", json={"category": who.main_category}, headers=headers
        )
        responses.append(decide.text)
    for text in responses:
        for word in PROFILE_WORDS:
            assert word not in text
    # Nor is any of it in the platform's database, under any table.
    with database.session() as session:
        for table in Base.metadata.sorted_tables:
            dump = str(session.execute(table.select()).all())
            for word in PROFILE_WORDS:
                assert word not in dump, table.name


def _history_dump(url: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    database = Database(url)
    try:
        with database.session() as session:
            events = session.execute(
                select(
                    Account.email,
                    HistoryEvent.kind,
                    HistoryEvent.product_id,
                    HistoryEvent.category_slug,
                    HistoryEvent.query,
                    HistoryEvent.filters,
                    HistoryEvent.quantity,
                    HistoryEvent.created_at,
                )
                .join(Account, Account.id == HistoryEvent.account_id)
                .order_by(HistoryEvent.id)
            ).all()
            orders = session.execute(
                select(Account.email, Order.idempotency_key, Order.total, Order.created_at)
                .join(Account, Account.id == Order.account_id)
                .order_by(Order.id)
            ).all()
        return [tuple(e) for e in events], [tuple(o) for o in orders]
    finally:
        database.dispose()


def _fresh_store(path: Path, persona_seed: int) -> str:
    url = f"sqlite:///{path}"
    upgrade(url)
    database = Database(url)
    try:
        seed_catalog(database, products=TEST_CATALOG_SIZE, seed=TEST_SEED, now=TEST_NOW)
        seed_personas(database, BUILTIN, seed=persona_seed, now=TEST_NOW)
        seed_personas(
            database, BUILTIN, seed=persona_seed, now=TEST_NOW
        )  # a second run adds nothing
    finally:
        database.dispose()
    return url


def test_seeding_is_deterministic(tmp_path: Path) -> None:
    first = _history_dump(_fresh_store(tmp_path / "a.db", TEST_SEED))
    second = _history_dump(_fresh_store(tmp_path / "b.db", TEST_SEED))
    other = _history_dump(_fresh_store(tmp_path / "c.db", TEST_SEED + 1))
    assert first == second
    assert first[0]
    assert len({e[0] for e in first[0]}) == len(PERSONAS)
    assert other != first
