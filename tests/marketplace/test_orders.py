"""Checkout and order history through HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from marketplace.accounts.models import Account
from marketplace.core.db import Database
from marketplace.orders.models import Order, OrderItem
from sandbox.liveserver import LiveServer
from tests.marketplace._shop import (
    auth,
    new_shopper,
    product_with_stock,
    quick_accounts,
    quiet_gate_policy,
    set_stock,
    stock_of,
    title_of,
)


@pytest.fixture
def policy(tmp_path: Path) -> str:
    return quiet_gate_policy(tmp_path)


def order(
    client: TestClient | httpx.Client,
    headers: dict[str, str],
    key: str | None = None,
    body: dict[str, Any] | None = None,
) -> httpx.Response:
    extra = {"Idempotency-Key": key or str(uuid.uuid4())}
    return client.post("/api/v1/orders", headers={**headers, **extra}, json=body)


def fill_cart(client: TestClient, headers: dict[str, str], *lines: tuple[int, int]) -> None:
    for product_id, quantity in lines:
        added = client.post(
            "/api/v1/cart/items",
            json={"product_id": product_id, "quantity": quantity},
            headers=headers,
        )
        assert added.status_code == 201, added.text


def test_ordering_requires_login(client: TestClient) -> None:
    response = order(client, {})
    assert response.status_code == 401
    assert "POST /api/v1/sessions" in response.json()["detail"]
    assert client.get("/api/v1/orders").status_code == 401
    assert client.get("/api/v1/orders/1").status_code == 401


def test_place_an_order_from_the_cart(client: TestClient, database: Database) -> None:
    headers = new_shopper(client)
    first = product_with_stock(database, 10)
    second = product_with_stock(database, 10, skip=1)
    stock_before = (stock_of(database, first), stock_of(database, second))
    fill_cart(client, headers, (first, 2), (second, 1))
    cart_total = client.get("/api/v1/cart", headers=headers).json()["total"]

    placed = order(client, headers, body={"payment": {"method": "mock-card", "card_last4": "4242"}})
    assert placed.status_code == 201, placed.text
    body = placed.json()
    assert body["status"] == "placed"
    assert body["total"] == cart_total
    # The channel is the gate's class of the caller, as announced on the response.
    assert body["channel"] == placed.headers["X-Visitor-Class"]
    assert body["payment"]["method"] == "mock-card"
    assert body["payment"]["card_last4"] == "4242"
    assert {(i["product_id"], i["quantity"]) for i in body["items"]} == {(first, 2), (second, 1)}
    assert body["item_count"] == 3

    assert (stock_of(database, first), stock_of(database, second)) == (
        stock_before[0] - 2,
        stock_before[1] - 1,
    )
    assert client.get("/api/v1/cart", headers=headers).json()["items"] == []

    purchases = client.get("/api/v1/me/history?kind=purchase", headers=headers).json()["items"]
    assert {(e["product_id"], e["quantity"], e["order_id"]) for e in purchases} == {
        (first, 2, body["id"]),
        (second, 1, body["id"]),
    }

    fetched = client.get(f"/api/v1/orders/{body['id']}", headers=headers)
    assert fetched.status_code == 200
    assert fetched.json() == body
    listed = client.get("/api/v1/orders", headers=headers).json()
    assert listed["total"] == 1
    assert listed["page"] == 1
    assert [o["id"] for o in listed["items"]] == [body["id"]]


def test_the_body_is_optional(client: TestClient, database: Database) -> None:
    headers = new_shopper(client)
    fill_cart(client, headers, (product_with_stock(database), 1))
    placed = client.post("/api/v1/orders", headers={**headers, "Idempotency-Key": "no-body"})
    assert placed.status_code == 201
    assert placed.json()["payment"]["method"] == "mock-card"
    assert placed.json()["payment"]["card_last4"] is None


def test_idempotency_key_is_required_and_named(client: TestClient, database: Database) -> None:
    headers = new_shopper(client)
    fill_cart(client, headers, (product_with_stock(database), 1))
    missing = client.post("/api/v1/orders", headers=headers)
    assert missing.status_code == 400
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert "Idempotency-Key" in missing.json()["detail"]

    too_long = order(client, headers, key="k" * 256)
    assert too_long.status_code == 400
    assert "Idempotency-Key" in too_long.json()["detail"]
    assert order(client, headers, key="k" * 255).status_code == 201


def test_replay_returns_the_same_order_and_buys_once(
    client: TestClient, database: Database
) -> None:
    headers = new_shopper(client)
    product = product_with_stock(database, 5)
    stock_before = stock_of(database, product)
    fill_cart(client, headers, (product, 2))
    body = {"payment": {"method": "mock-card", "card_last4": "1111"}}

    first = order(client, headers, key="replay-1", body=body)
    again = order(client, headers, key="replay-1", body=body)
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json() == first.json()
    assert stock_of(database, product) == stock_before - 2
    assert client.get("/api/v1/orders", headers=headers).json()["total"] == 1


def test_same_key_with_another_body_is_refused(client: TestClient, database: Database) -> None:
    headers = new_shopper(client)
    product = product_with_stock(database, 5)
    fill_cart(client, headers, (product, 1))
    assert order(client, headers, key="reuse-1").status_code == 201

    other_body = order(client, headers, key="reuse-1", body={"payment": {"method": "mock-wallet"}})
    assert other_body.status_code in (409, 422)
    assert "Idempotency-Key" in other_body.json()["detail"]
    assert "new key" in other_body.json()["detail"]

    # The same key for a new cart is another request too: it must not return the old order.
    fill_cart(client, headers, (product_with_stock(database, 5, skip=1), 1))
    other_cart = order(client, headers, key="reuse-1")
    assert other_cart.status_code in (409, 422)
    assert client.get("/api/v1/orders", headers=headers).json()["total"] == 1
    assert len(client.get("/api/v1/cart", headers=headers).json()["items"]) == 1


def test_keys_belong_to_one_account(client: TestClient, database: Database) -> None:
    alice, bob = new_shopper(client, "alice"), new_shopper(client, "bob")
    fill_cart(client, alice, (product_with_stock(database), 1))
    fill_cart(client, bob, (product_with_stock(database), 1))
    a = order(client, alice, key="shared-key")
    b = order(client, bob, key="shared-key")
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


def test_a_card_number_is_refused_and_never_stored(client: TestClient, database: Database) -> None:
    headers = new_shopper(client)
    fill_cart(client, headers, (product_with_stock(database), 1))
    for payment in (
        {"method": "mock-card", "card_number": "4242 4242 4242 4242"},
        {"method": "mock-card", "card_last4": "4242424242424242"},
        {"method": "mock-card", "number": 4000056655665556},
    ):
        response = order(client, headers, body={"payment": payment})
        assert response.status_code == 422, payment
        assert "payment" in response.json()["detail"]
    refused = order(client, headers, body={"payment": {"card_number": "4242-4242-4242-4242"}})
    assert "card number" in refused.json()["detail"]
    with database.session() as session:
        assert (
            session.scalar(
                select(func.count(Order.id)).where(Order.payment_reference.contains("4242424"))
            )
            == 0
        )


def test_empty_cart_says_to_add_items(client: TestClient) -> None:
    headers = new_shopper(client)
    response = order(client, headers)
    assert response.status_code in (409, 422)
    assert "POST /api/v1/cart/items" in response.json()["detail"]


def test_out_of_stock_names_the_product_and_writes_nothing(
    client: TestClient, database: Database
) -> None:
    alice, bob = new_shopper(client, "alice"), new_shopper(client, "bob")
    plenty = product_with_stock(database, 10)
    scarce = product_with_stock(database, 10, skip=1)
    set_stock(database, scarce, 3)
    plenty_before = stock_of(database, plenty)
    fill_cart(client, alice, (scarce, 2))
    fill_cart(client, bob, (plenty, 1), (scarce, 2))
    assert order(client, alice).status_code == 201

    refused = order(client, bob)
    assert refused.status_code == 409
    problem = refused.json()
    assert problem["product_id"] == scarce
    assert problem["stock_left"] == 1
    assert title_of(database, scarce) in problem["detail"]
    # Everything rolled back: no order, the other line's stock untouched, the cart kept.
    assert stock_of(database, plenty) == plenty_before
    assert stock_of(database, scarce) == 1
    assert client.get("/api/v1/orders", headers=bob).json()["total"] == 0
    assert len(client.get("/api/v1/cart", headers=bob).json()["items"]) == 2
    # The same key works once the cart fits the stock: the failed attempt did not claim it.
    client.patch(f"/api/v1/cart/items/{scarce}", json={"quantity": 1}, headers=bob)
    assert order(client, bob).status_code == 201
    assert stock_of(database, scarce) == 0


def test_suspended_accounts_cannot_order(client: TestClient, database: Database) -> None:
    headers = new_shopper(client, "suspended")
    fill_cart(client, headers, (product_with_stock(database), 1))
    me = client.get("/api/v1/me", headers=headers).json()
    with database.session() as session:
        session.execute(
            update(Account)
            .where(Account.id == me["id"])
            .values(status="suspended", status_reason="automated ordering")
        )
    refused = order(client, headers)
    assert refused.status_code == 403
    assert "suspended" in refused.json()["detail"]


def test_orders_are_private(client: TestClient, database: Database) -> None:
    alice, bob = new_shopper(client, "alice"), new_shopper(client, "bob")
    fill_cart(client, bob, (product_with_stock(database), 1))
    bobs = order(client, bob).json()

    hidden = client.get(f"/api/v1/orders/{bobs['id']}", headers=alice)
    assert hidden.status_code == 404
    assert (
        client.get("/api/v1/orders/999999", headers=alice)
        .json()["detail"]
        .replace("999999", str(bobs["id"]))
        == hidden.json()["detail"]
    )
    assert client.get("/api/v1/orders", headers=alice).json()["items"] == []


def test_order_list_is_paginated_newest_first(client: TestClient, database: Database) -> None:
    headers = new_shopper(client)
    ids = []
    for i in range(3):
        fill_cart(client, headers, (product_with_stock(database, 5, skip=i), 1))
        ids.append(order(client, headers).json()["id"])
    first = client.get("/api/v1/orders?page=1&page_size=2", headers=headers).json()
    second = client.get("/api/v1/orders?page=2&page_size=2", headers=headers).json()
    assert first["total"] == second["total"] == 3
    assert first["page_size"] == 2
    assert [o["id"] for o in first["items"] + second["items"]] == sorted(ids, reverse=True)
    assert client.get("/api/v1/orders?page_size=101", headers=headers).status_code == 422


def _race(count: int, work: Any) -> list[Any]:
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        results[index] = work(index)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _sold(database: Database, product_id: int) -> int:
    with database.session() as session:
        sold = session.scalar(
            select(func.sum(OrderItem.quantity)).where(OrderItem.product_id == product_id)
        )
    return int(sold or 0)


def test_fifty_buyers_for_five_units_make_exactly_five_orders(
    live_server: LiveServer, database: Database
) -> None:
    product = product_with_stock(database)
    set_stock(database, product, 50)
    sold_before = _sold(database, product)
    tokens = quick_accounts(database, 50, "racer")
    for token in tokens:
        added = httpx.post(
            f"{live_server.url}/api/v1/cart/items",
            json={"product_id": product, "quantity": 1},
            headers=auth(token),
        )
        assert added.status_code == 201, added.text
    set_stock(database, product, 5)

    def buy(index: int) -> httpx.Response:
        with httpx.Client(base_url=live_server.url, timeout=120) as http:
            return order(http, auth(tokens[index]), key=f"race-{index}")

    responses = _race(50, buy)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 5 + [409] * 45, [r.text for r in responses if r.status_code >= 500]
    assert all(r.json()["product_id"] == product for r in responses if r.status_code == 409)
    assert stock_of(database, product) == 0
    assert _sold(database, product) == sold_before + 5


def test_double_submit_with_one_key_places_one_order(
    live_server: LiveServer, database: Database
) -> None:
    product = product_with_stock(database, 5)
    stock_before = stock_of(database, product)
    (token,) = quick_accounts(database, 1, "double")
    httpx.post(
        f"{live_server.url}/api/v1/cart/items",
        json={"product_id": product, "quantity": 1},
        headers=auth(token),
    ).raise_for_status()

    def submit(_: int) -> httpx.Response:
        with httpx.Client(base_url=live_server.url, timeout=120) as http:
            return order(http, auth(token), key="double-submit")

    responses = _race(10, submit)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 9 + [201], [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert stock_of(database, product) == stock_before - 1
    with database.session() as session:
        assert (
            session.scalar(
                select(func.count(Order.id)).where(Order.idempotency_key == "double-submit")
            )
            == 1
        )
