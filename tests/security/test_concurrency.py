"""Contention the existing tests do not cover, on SQLite and PostgreSQL, over real HTTP.

Already covered elsewhere (see docs/security.md): fifty buyers for five units and one
Idempotency-Key sent ten times at once (tests/marketplace/test_orders.py), twenty simultaneous
cart adds (tests/marketplace/test_cart.py), one checkout form sent four times at once
(tests/marketplace/test_storefront.py). Here: the 99-unit line cap under contention, two tabs
checking out one cart with different keys, a checkout racing cart edits, and buyers taking the
same two products in opposite orders (a lock-ordering deadlock on PostgreSQL if rows were locked
in request order).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import func, select

from marketplace.cart.schemas import MAX_LINE_QUANTITY
from marketplace.core.db import Database
from marketplace.orders.models import Order, OrderItem
from sandbox.liveserver import LiveServer
from tests.marketplace._shop import (
    auth,
    product_with_stock,
    quick_accounts,
    quiet_gate_policy,
    set_stock,
    stock_of,
)

T = TypeVar("T")


@pytest.fixture
def policy(tmp_path: Path) -> str:
    return quiet_gate_policy(tmp_path)


def race(count: int, work: Callable[[int], T]) -> list[T]:
    """Run `work(i)` for i in range(count) in threads released at the same moment."""
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


def call(url: str, token: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    with httpx.Client(base_url=url, headers=auth(token), timeout=120) as http:
        return http.request(method, path, **kwargs)


def ordered_units(database: Database, product_id: int) -> int:
    with database.session() as session:
        total = session.scalar(
            select(func.sum(OrderItem.quantity)).where(OrderItem.product_id == product_id)
        )
    return int(total or 0)


def test_line_cap_holds_under_contention(live_server: LiveServer, database: Database) -> None:
    product = product_with_stock(database)
    set_stock(database, product, 1000)
    (token,) = quick_accounts(database, 1, "capper")
    step = 15
    responses = race(
        10,
        lambda _: call(
            live_server.url,
            token,
            "POST",
            "/api/v1/cart/items",
            json={"product_id": product, "quantity": step},
        ),
    )
    statuses = sorted(r.status_code for r in responses)
    fit = MAX_LINE_QUANTITY // step
    assert statuses == [201] * fit + [409] * (10 - fit), [r.text for r in responses]
    cart = call(live_server.url, token, "GET", "/api/v1/cart").json()
    assert [line["quantity"] for line in cart["items"]] == [fit * step]


def test_two_tabs_checking_out_one_cart_buy_once(
    live_server: LiveServer, database: Database
) -> None:
    product = product_with_stock(database, at_least=10)
    stock_before = stock_of(database, product)
    sold_before = ordered_units(database, product)
    (token,) = quick_accounts(database, 1, "tabs")
    call(
        live_server.url,
        token,
        "POST",
        "/api/v1/cart/items",
        json={"product_id": product, "quantity": 3},
    ).raise_for_status()
    # Different keys: each tab thinks it is the first checkout.
    responses = race(
        6,
        lambda i: call(
            live_server.url,
            token,
            "POST",
            "/api/v1/orders",
            headers={"Idempotency-Key": f"tab-{i}-{uuid.uuid4()}"},
        ),
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 1, [r.text for r in responses]
    assert all(s in (201, 409, 422) for s in statuses), [r.text for r in responses]
    assert stock_of(database, product) == stock_before - 3
    assert ordered_units(database, product) == sold_before + 3


def test_checkout_racing_cart_edits_orders_what_it_charged(
    live_server: LiveServer, database: Database
) -> None:
    product = product_with_stock(database, at_least=50)
    set_stock(database, product, 200)
    sold_before = ordered_units(database, product)
    (token,) = quick_accounts(database, 1, "editor")
    call(
        live_server.url,
        token,
        "POST",
        "/api/v1/cart/items",
        json={"product_id": product, "quantity": 2},
    ).raise_for_status()

    def act(i: int) -> httpx.Response:
        if i == 0:
            return call(
                live_server.url,
                token,
                "POST",
                "/api/v1/orders",
                headers={"Idempotency-Key": "edit-race"},
            )
        if i % 2:
            return call(
                live_server.url,
                token,
                "POST",
                "/api/v1/cart/items",
                json={"product_id": product, "quantity": 1},
            )
        return call(
            live_server.url,
            token,
            "PATCH",
            f"/api/v1/cart/items/{product}",
            json={"quantity": 5},
        )

    responses = race(9, act)
    assert all(r.status_code < 500 for r in responses), [r.text for r in responses]
    checkout = responses[0]
    assert checkout.status_code == 201, checkout.text
    placed = checkout.json()
    line_units = sum(item["quantity"] for item in placed["items"])
    # The order holds one consistent snapshot of the cart, and its total matches its lines.
    assert line_units >= 1
    assert placed["total"] == pytest.approx(
        sum(item["unit_price"] * item["quantity"] for item in placed["items"])
    )
    assert stock_of(database, product) == 200 - line_units
    assert ordered_units(database, product) == sold_before + line_units


def test_opposite_lock_orders_neither_deadlock_nor_oversell(
    live_server: LiveServer, database: Database
) -> None:
    first = product_with_stock(database, skip=0)
    second = product_with_stock(database, skip=1)
    set_stock(database, first, 50)
    set_stock(database, second, 50)
    sold = {p: ordered_units(database, p) for p in (first, second)}
    tokens = quick_accounts(database, 12, "crossed")
    for i, token in enumerate(tokens):
        # Half add first-then-second, half second-then-first.
        for product in (first, second) if i % 2 == 0 else (second, first):
            call(
                live_server.url,
                token,
                "POST",
                "/api/v1/cart/items",
                json={"product_id": product, "quantity": 1},
            ).raise_for_status()
    set_stock(database, first, 5)
    set_stock(database, second, 8)
    responses = race(
        12,
        lambda i: call(
            live_server.url,
            tokens[i],
            "POST",
            "/api/v1/orders",
            headers={"Idempotency-Key": f"crossed-{i}"},
        ),
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 5 + [409] * 7, [r.text for r in responses if r.status_code >= 500]
    assert stock_of(database, first) == 0
    assert stock_of(database, second) == 3
    assert ordered_units(database, first) == sold[first] + 5
    assert ordered_units(database, second) == sold[second] + 5
    with database.session() as session:
        keys = session.scalars(
            select(Order.idempotency_key).where(Order.idempotency_key.like("crossed-%"))
        ).all()
    assert len(keys) == 5
