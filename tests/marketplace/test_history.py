"""The shopper's own history through HTTP, on SQLite and PostgreSQL: nobody sees anyone else's."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from marketplace.accounts.models import Account
from marketplace.core.db import Database
from marketplace.history.service import (
    category_counts,
    product_interest,
    recent_events,
)
from sandbox.persona import load_personas
from tests.conftest import CHROME_UA, TEST_NOW
from tests.marketplace._shop import new_shopper, product_with_stock

PERSONAS = load_personas().members


def history(client: TestClient, headers: dict[str, str] | None = None, **params: object) -> dict:
    response = client.get("/api/v1/me/history", headers=headers or {}, params=params)
    assert response.status_code == 200, response.text
    body: dict = response.json()
    return body


def test_an_anonymous_visitor_sees_only_its_own_session(
    client: TestClient, database: Database
) -> None:
    product = product_with_stock(database)
    client.get(f"/api/v1/products/{product}")
    client.get("/api/v1/products", params={"q": "headphones"})
    mine = history(client)
    assert [e["kind"] for e in mine["items"]] == ["search", "view"]
    assert mine["items"][1]["product_id"] == product
    assert mine["items"][0]["query"] == "headphones"

    with TestClient(client.app, headers={"user-agent": CHROME_UA}) as stranger:
        assert history(stranger)["items"] == []
        assert history(stranger)["total"] == 0


def test_anonymous_history_is_claimed_at_login(client: TestClient, database: Database) -> None:
    product = product_with_stock(database)
    client.get(f"/api/v1/products/{product}")
    email, password = f"claim-{uuid.uuid4().hex[:8]}@example.com", "claim-pass-1"
    client.post("/api/v1/accounts", json={"email": email, "password": password, "name": "C"})
    token = client.post("/api/v1/sessions", json={"email": email, "password": password}).json()[
        "access_token"
    ]
    # Through the bearer token (no cookie needed) the account now owns the earlier view.
    with TestClient(client.app, headers={"user-agent": CHROME_UA}) as api:
        events = history(api, {"Authorization": f"Bearer {token}"})["items"]
    assert [(e["kind"], e["product_id"]) for e in events] == [("view", product)]


def test_users_never_see_each_others_history_cart_or_orders(
    client: TestClient, database: Database
) -> None:
    alice, bob = new_shopper(client, "alice"), new_shopper(client, "bob")
    a_product = product_with_stock(database, 5)
    b_product = product_with_stock(database, 5, skip=1)
    client.get(f"/api/v1/products/{a_product}", headers=alice)
    client.get("/api/v1/products", params={"q": "alice secret tent"}, headers=alice)
    client.post("/api/v1/cart/items", json={"product_id": a_product}, headers=alice)
    client.get(f"/api/v1/products/{b_product}", headers=bob)
    client.post("/api/v1/cart/items", json={"product_id": b_product}, headers=bob)
    b_order = client.post("/api/v1/orders", headers={**bob, "Idempotency-Key": "bob-1"}).json()
    client.post("/api/v1/cart/items", json={"product_id": b_product}, headers=bob)

    a_events = history(client, alice)["items"]
    b_events = history(client, bob)["items"]
    assert {e["id"] for e in a_events}.isdisjoint({e["id"] for e in b_events})
    assert {e["product_id"] for e in a_events if e["product_id"]} == {a_product}
    assert {e["product_id"] for e in b_events if e["product_id"]} == {b_product}
    assert all(e["query"] != "alice secret tent" for e in b_events)
    assert "purchase" not in {e["kind"] for e in a_events}

    a_cart = client.get("/api/v1/cart", headers=alice).json()
    assert [line["product_id"] for line in a_cart["items"]] == [a_product]
    assert client.get("/api/v1/orders", headers=alice).json()["total"] == 0
    assert client.get(f"/api/v1/orders/{b_order['id']}", headers=alice).status_code == 404
    # Alice cannot change Bob's cart either: the product is simply not in hers.
    assert client.delete(f"/api/v1/cart/items/{b_product}", headers=alice).status_code == 404
    assert len(client.get("/api/v1/cart", headers=bob).json()["items"]) == 1


def test_no_shopper_sees_a_persona_history(client: TestClient) -> None:
    headers = new_shopper(client)
    assert history(client, headers)["total"] == 0
    login = client.post(
        "/api/v1/sessions", json={"email": PERSONAS[0].email, "password": PERSONAS[0].password}
    )
    persona_token = login.json()["access_token"]
    assert history(client, {"Authorization": f"Bearer {persona_token}"})["total"] > 0
    assert history(client, headers)["total"] == 0


def test_kind_filter_and_pagination(client: TestClient, database: Database) -> None:
    headers = new_shopper(client)
    products = [product_with_stock(database, skip=i) for i in range(3)]
    for product in products:
        client.get(f"/api/v1/products/{product}", headers=headers)
    client.get("/api/v1/products", params={"q": "blender"}, headers=headers)

    views = history(client, headers, kind="view")
    assert views["total"] == 3
    assert {e["kind"] for e in views["items"]} == {"view"}
    first = history(client, headers, page=1, page_size=3)
    second = history(client, headers, page=2, page_size=3)
    assert first["total"] == second["total"] == 4
    assert first["page_size"] == 3
    assert len(first["items"]) == 3
    assert len(second["items"]) == 1
    # Newest first: the search came last.
    assert first["items"][0]["kind"] == "search"
    assert first["items"][0]["filters"] is not None

    bad = client.get("/api/v1/me/history", params={"kind": "bogus"}, headers=headers)
    assert bad.status_code == 422
    assert "kind" in bad.json()["detail"]
    too_big = client.get("/api/v1/me/history", params={"page_size": 101}, headers=headers)
    assert too_big.status_code == 422


def test_read_helpers_return_only_the_owners_events(database: Database) -> None:
    """The helpers Help Me Decide reads with: per owner, windowed, by kind and category."""
    student, audiophile = PERSONAS[0], PERSONAS[1]
    with database.session() as session:
        ids = dict(session.execute(select(Account.email, Account.id)).all())
        a_id, b_id = ids[student.email], ids[audiophile.email]

        recent = recent_events(
            session,
            account_id=a_id,
            session_key=None,
            since=TEST_NOW - timedelta(days=7),
            kinds=["view"],
        )
        assert recent
        assert all(e.account_id == a_id and e.kind == "view" for e in recent)
        assert all(e.created_at >= TEST_NOW - timedelta(days=7) for e in recent)
        assert [e.created_at for e in recent] == sorted(
            (e.created_at for e in recent), reverse=True
        )

        interest = product_interest(
            session, account_id=a_id, session_key=None, category_slug=student.main_category
        )
        assert interest
        assert all(i.category_slug == student.main_category for i in interest)
        assert sum(i.views for i in interest) >= 6
        assert all(i.last_seen.tzinfo is not None for i in interest)
        b_products = {
            i.product_id for i in product_interest(session, account_id=b_id, session_key=None)
        }
        a_views = {e.product_id for e in recent_events(session, account_id=a_id, session_key=None)}
        assert {i.product_id for i in interest} <= a_views
        assert b_products  # the audiophile has a history of its own

        # What the student shops for right now is the category of the last few days.
        counts = category_counts(
            session, account_id=a_id, session_key=None, since=TEST_NOW - timedelta(days=5)
        )
        assert max(counts, key=lambda slug: counts[slug]) == student.main_category
        assert len(category_counts(session, account_id=a_id, session_key=None)) >= 2

        # No owner means no events, never everyone's.
        assert recent_events(session, account_id=None, session_key=None) == []
        assert recent_events(session, account_id=None, session_key="nobody") == []
