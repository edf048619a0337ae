"""The cart API through HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from marketplace.core.db import Database
from sandbox.liveserver import LiveServer
from tests.marketplace._shop import (
    auth,
    new_shopper,
    product_with_stock,
    quick_accounts,
    quiet_gate_policy,
    set_stock,
    title_of,
)


@pytest.fixture
def policy(tmp_path: Path) -> str:
    return quiet_gate_policy(tmp_path)


def test_cart_requires_login_and_says_how(client: TestClient) -> None:
    for method, path, body in (
        ("GET", "/api/v1/cart", None),
        ("POST", "/api/v1/cart/items", {"product_id": 1, "quantity": 1}),
        ("PATCH", "/api/v1/cart/items/1", {"quantity": 2}),
        ("DELETE", "/api/v1/cart/items/1", None),
    ):
        response = client.request(method, path, json=body)
        assert response.status_code == 401, (method, path)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "POST /api/v1/sessions" in response.json()["detail"]


def test_new_cart_is_empty(client: TestClient) -> None:
    headers = new_shopper(client)
    response = client.get("/api/v1/cart", headers=headers)
    assert response.status_code == 200
    assert response.json() == {"items": [], "total": 0.0, "item_count": 0}


def test_add_twice_increases_the_quantity_and_totals_add_up(
    client: TestClient, database: Database
) -> None:
    headers = new_shopper(client)
    first = product_with_stock(database, 10)
    second = product_with_stock(database, 10, skip=1)

    added = client.post(
        "/api/v1/cart/items", json={"product_id": first, "quantity": 2}, headers=headers
    )
    assert added.status_code == 201
    client.post("/api/v1/cart/items", json={"product_id": first, "quantity": 3}, headers=headers)
    client.post("/api/v1/cart/items", json={"product_id": second}, headers=headers)

    cart = client.get("/api/v1/cart", headers=headers).json()
    lines = {line["product_id"]: line for line in cart["items"]}
    assert set(lines) == {first, second}
    assert lines[first]["quantity"] == 5
    assert lines[second]["quantity"] == 1
    assert lines[first]["line_total"] == round(lines[first]["price"] * 5, 2)
    assert lines[first]["in_stock"] is True
    assert lines[first]["title"]
    assert cart["total"] == round(lines[first]["line_total"] + lines[second]["line_total"], 2)
    assert cart["item_count"] == 6


def test_patch_sets_and_delete_removes(client: TestClient, database: Database) -> None:
    headers = new_shopper(client)
    product = product_with_stock(database, 10)
    client.post("/api/v1/cart/items", json={"product_id": product, "quantity": 4}, headers=headers)

    patched = client.patch(f"/api/v1/cart/items/{product}", json={"quantity": 2}, headers=headers)
    assert patched.status_code == 200
    assert patched.json()["items"][0]["quantity"] == 2

    removed = client.delete(f"/api/v1/cart/items/{product}", headers=headers)
    assert removed.status_code == 200
    assert removed.json()["items"] == []
    assert client.get("/api/v1/cart", headers=headers).json()["items"] == []


def test_changing_a_product_not_in_the_cart_is_404_with_a_hint(
    client: TestClient, database: Database
) -> None:
    headers = new_shopper(client)
    product = product_with_stock(database)
    for response in (
        client.patch(f"/api/v1/cart/items/{product}", json={"quantity": 1}, headers=headers),
        client.delete(f"/api/v1/cart/items/{product}", headers=headers),
    ):
        assert response.status_code == 404
        assert "POST /api/v1/cart/items" in response.json()["detail"]


def test_unknown_product_is_named(client: TestClient) -> None:
    headers = new_shopper(client)
    response = client.post(
        "/api/v1/cart/items", json={"product_id": 987654, "quantity": 1}, headers=headers
    )
    assert response.status_code == 404
    assert "987654" in response.json()["detail"]


def test_quantity_out_of_range_names_the_field(client: TestClient, database: Database) -> None:
    headers = new_shopper(client)
    product = product_with_stock(database)
    for quantity in (0, -1, 100):
        response = client.post(
            "/api/v1/cart/items",
            json={"product_id": product, "quantity": quantity},
            headers=headers,
        )
        assert response.status_code == 422, quantity
        assert "quantity" in response.json()["detail"]
    patched = client.patch(f"/api/v1/cart/items/{product}", json={"quantity": 0}, headers=headers)
    assert patched.status_code == 422


def test_more_than_the_stock_is_refused_naming_product_and_stock(
    client: TestClient, database: Database
) -> None:
    headers = new_shopper(client)
    product = product_with_stock(database)
    set_stock(database, product, 3)
    title = title_of(database, product)

    too_many = client.post(
        "/api/v1/cart/items", json={"product_id": product, "quantity": 4}, headers=headers
    )
    assert too_many.status_code == 409
    problem = too_many.json()
    assert problem["product_id"] == product
    assert problem["stock_left"] == 3
    assert "3" in problem["detail"]
    assert str(product) in problem["detail"]
    assert title in problem["detail"]

    # Adding up to the stock works; one more, in a second request, does not, and changes nothing.
    assert (
        client.post(
            "/api/v1/cart/items", json={"product_id": product, "quantity": 3}, headers=headers
        ).status_code
        == 201
    )
    again = client.post(
        "/api/v1/cart/items", json={"product_id": product, "quantity": 1}, headers=headers
    )
    assert again.status_code == 409
    assert client.get("/api/v1/cart", headers=headers).json()["items"][0]["quantity"] == 3
    patched = client.patch(f"/api/v1/cart/items/{product}", json={"quantity": 5}, headers=headers)
    assert patched.status_code == 409


def test_cart_changes_are_recorded_in_history(client: TestClient, database: Database) -> None:
    headers = new_shopper(client)
    product = product_with_stock(database, 5)
    client.post("/api/v1/cart/items", json={"product_id": product, "quantity": 2}, headers=headers)
    client.patch(f"/api/v1/cart/items/{product}", json={"quantity": 3}, headers=headers)
    client.delete(f"/api/v1/cart/items/{product}", headers=headers)

    events = client.get("/api/v1/me/history", headers=headers).json()["items"]
    cart_events = [(e["kind"], e["product_id"], e["quantity"]) for e in events]
    assert cart_events[:3] == [
        ("cart_remove", product, 3),
        ("cart_update", product, 3),
        ("cart_add", product, 2),
    ]
    assert all(e["category"] for e in events[:3])


def test_concurrent_adds_lose_and_double_nothing(
    live_server: LiveServer, database: Database
) -> None:
    """Twenty simultaneous adds of one unit each, from two sessions of one account: quantity 20."""
    product = product_with_stock(database)
    set_stock(database, product, 500)
    (token,) = quick_accounts(database, 1, "cart-racer")
    barrier = threading.Barrier(20)
    statuses: list[int] = []
    lock = threading.Lock()

    def add() -> None:
        with httpx.Client(base_url=live_server.url, headers=auth(token), timeout=60) as http:
            barrier.wait()
            response = http.post("/api/v1/cart/items", json={"product_id": product, "quantity": 1})
            with lock:
                statuses.append(response.status_code)

    threads = [threading.Thread(target=add) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [201] * 20
    cart = httpx.get(f"{live_server.url}/api/v1/cart", headers=auth(token)).json()
    assert [(line["product_id"], line["quantity"]) for line in cart["items"]] == [(product, 20)]
