"""The HTML store's cart and checkout: forms, stock, idempotent orders, privacy."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from marketplace.catalog.models import Product
from marketplace.core.db import Database
from marketplace.orders.models import Order
from tests.conftest import CHROME_UA
from tests.marketplace._storefront import (
    HTML,
    add_to_cart,
    csrf_of,
    hidden,
    in_stock_product,
    register,
)


def test_cart_add_change_and_remove(client: TestClient, database: Database) -> None:
    register(client, "cart@example.com")
    product_id, _ = in_stock_product(database)
    add_to_cart(client, product_id, 2)
    cart = client.get("/cart")
    assert "Added 2 ×" in cart.text
    assert 'value="2"' in cart.text
    assert f"/products/{product_id}" in cart.text

    response = client.post(
        f"/cart/items/{product_id}",
        data={"csrf_token": csrf_of(cart.text), "quantity": 3},
        follow_redirects=False,
    )
    assert response.status_code == 303
    cart = client.get("/cart")
    assert "Quantity updated." in cart.text
    assert client.get("/api/v1/cart").json()["items"][0]["quantity"] == 3

    response = client.post(
        f"/cart/items/{product_id}/remove",
        data={"csrf_token": csrf_of(cart.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert "Your cart is empty" in client.get("/cart").text
    kinds = {e["kind"] for e in client.get("/api/v1/me/history").json()["items"]}
    assert {"view", "cart_add", "cart_update", "cart_remove"} <= kinds


def test_adding_more_than_the_stock_names_the_product(
    client: TestClient, database: Database
) -> None:
    register(client, "greedy@example.com")
    product_id, _ = in_stock_product(database)
    with database.session() as session:
        session.execute(update(Product).where(Product.id == product_id).values(stock=2))
    page = client.get(f"/products/{product_id}")
    response = client.post(
        "/cart/items",
        data={"csrf_token": csrf_of(page.text), "product_id": product_id, "quantity": 5},
    )
    assert response.status_code == 200
    assert str(response.url).endswith(f"/products/{product_id}")
    assert "Only 2 of" in response.text
    assert client.get("/api/v1/cart").json()["items"] == []


def test_anonymous_add_to_cart_asks_to_log_in(client: TestClient, database: Database) -> None:
    product_id, _ = in_stock_product(database)
    page = client.get(f"/products/{product_id}")
    response = client.post(
        "/cart/items",
        data={"csrf_token": csrf_of(page.text), "product_id": product_id, "quantity": 1},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next=%2Fproducts%2F{product_id}"


def test_double_submitted_checkout_places_one_order(client: TestClient, database: Database) -> None:
    register(client, "double@example.com")
    product_id, _ = in_stock_product(database)
    add_to_cart(client, product_id, 1)
    checkout = client.get("/checkout")
    assert checkout.status_code == 200
    assert "Place order" in checkout.text
    form = {
        "csrf_token": csrf_of(checkout.text),
        "idempotency_key": hidden(checkout.text, "idempotency_key"),
        "payment_method": "mock-card",
        "card_last4": "4242",
    }
    first = client.post("/checkout", data=form, follow_redirects=False)
    second = client.post("/checkout", data=form, follow_redirects=False)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert re.fullmatch(r"/orders/\d+", first.headers["location"])

    listing = client.get("/api/v1/orders").json()
    assert listing["total"] == 1
    order_page = client.get(first.headers["location"])
    assert "already placed" in order_page.text
    assert "ending in 4242" in order_page.text
    orders_page = client.get("/orders")
    assert first.headers["location"] in orders_page.text
    # The order's channel is the gate's class for the request that placed it.
    assert listing["items"][0]["channel"] == first.headers["x-visitor-class"]


def test_a_checkout_form_sent_several_times_at_once_places_one_order(
    client: TestClient, database: Database
) -> None:
    register(client, "impatient@example.com")
    product_id, _ = in_stock_product(database)
    with database.session() as session:
        before = session.scalar(select(Product.stock).where(Product.id == product_id))
    add_to_cart(client, product_id, 1)
    checkout = client.get("/checkout")
    form = {
        "csrf_token": csrf_of(checkout.text),
        "idempotency_key": hidden(checkout.text, "idempotency_key"),
        "payment_method": "mock-card",
    }
    with ThreadPoolExecutor(max_workers=4) as pool:
        sent = [
            pool.submit(client.post, "/checkout", data=form, follow_redirects=False)
            for _ in range(4)
        ]
        responses = [future.result() for future in sent]
    assert [r.status_code for r in responses] == [303] * 4
    assert len({r.headers["location"] for r in responses}) == 1
    assert client.get("/api/v1/orders").json()["total"] == 1
    with database.session() as session:
        left = session.scalar(select(Product.stock).where(Product.id == product_id))
    assert before is not None
    assert left == before - 1


def test_checkout_out_of_stock_names_the_product(client: TestClient, database: Database) -> None:
    register(client, "late@example.com")
    product_id, _ = in_stock_product(database)
    add_to_cart(client, product_id, 1)
    checkout = client.get("/checkout")
    with database.session() as session:
        session.execute(update(Product).where(Product.id == product_id).values(stock=0))
    response = client.post(
        "/checkout",
        data={
            "csrf_token": csrf_of(checkout.text),
            "idempotency_key": hidden(checkout.text, "idempotency_key"),
            "payment_method": "mock-card",
        },
    )
    assert str(response.url).endswith("/cart")
    assert "out of stock" in response.text
    assert client.get("/api/v1/orders").json()["total"] == 0
    assert "Nothing was charged" in response.text


def test_checkout_refuses_a_full_card_number(client: TestClient, database: Database) -> None:
    register(client, "card@example.com")
    product_id, _ = in_stock_product(database)
    add_to_cart(client, product_id, 1)
    checkout = client.get("/checkout")
    response = client.post(
        "/checkout",
        data={
            "csrf_token": csrf_of(checkout.text),
            "idempotency_key": hidden(checkout.text, "idempotency_key"),
            "payment_method": "mock-card",
            "card_last4": "4242 4242 4242 4242",
        },
    )
    assert str(response.url).endswith("/checkout")
    assert "never enter a full card number" in response.text
    assert client.get("/api/v1/orders").json()["total"] == 0


def test_empty_cart_checkout_goes_back_to_the_cart(client: TestClient) -> None:
    register(client, "empty@example.com")
    response = client.get("/checkout", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/cart"


def test_another_shoppers_order_is_not_found(
    client: TestClient, app: FastAPI, database: Database
) -> None:
    register(client, "owner@example.com")
    product_id, _ = in_stock_product(database)
    add_to_cart(client, product_id, 1)
    checkout = client.get("/checkout")
    placed = client.post(
        "/checkout",
        data={
            "csrf_token": csrf_of(checkout.text),
            "idempotency_key": hidden(checkout.text, "idempotency_key"),
        },
        follow_redirects=False,
    )
    order_path = placed.headers["location"]
    assert client.get(order_path).status_code == 200

    with TestClient(app, headers={"user-agent": CHROME_UA}) as other:
        register(other, "snoop@example.com")
        response = other.get(order_path, headers=HTML)
        assert response.status_code == 404
        assert "owner@example.com" not in response.text
        assert order_path not in other.get("/orders").text


def place(client: TestClient) -> str:
    checkout = client.get("/checkout")
    form = {
        "csrf_token": csrf_of(checkout.text),
        "idempotency_key": hidden(checkout.text, "idempotency_key"),
        "payment_method": "mock-card",
        "card_last4": "4242",
    }
    placed = client.post("/checkout", data=form, follow_redirects=False)
    assert placed.status_code == 303
    return client.get(placed.headers["location"]).text


def test_a_new_shoppers_first_order_is_number_one(client: TestClient, database: Database) -> None:
    # The seeded personas' past orders hold the store's first ids.
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Order)) > 0
    register(client, "first-order@example.com")
    product_id, _ = in_stock_product(database)
    add_to_cart(client, product_id, 1)
    first = place(client)
    assert "Thank you! Order #1 is placed." in first
    assert "<h1>Order #1</h1>" in first
    add_to_cart(client, product_id, 1)
    assert "Order #2 is placed" in place(client)
    listing = client.get("/orders").text
    assert ">Order #1<" in listing
    assert ">Order #2<" in listing
