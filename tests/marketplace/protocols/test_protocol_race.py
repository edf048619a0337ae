"""REST-API and UCP buyers racing for the last units: exactly the stock is sold (both databases)."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from marketplace.catalog.models import Product
from marketplace.core.db import Database
from marketplace.orders.models import Order, OrderItem
from sandbox.liveserver import LiveServer
from tests.marketplace._shop import auth, quick_accounts, quiet_gate_policy
from tests.marketplace.protocols._ucp import create_body, headers, load_shop, payment

BUYERS_PER_DOOR = 8
LAST_UNITS = 5


@pytest.fixture
def policy(tmp_path: Path) -> str:
    return quiet_gate_policy(tmp_path)


def _set_stock(database: Database, product_id: int, units: int) -> None:
    with database.session() as session:
        session.execute(update(Product).where(Product.id == product_id).values(stock=units))


def test_rest_and_ucp_buyers_never_oversell_the_last_units(
    live_server: LiveServer, database: Database, tmp_path: Path
) -> None:
    load_shop(database, tmp_path / "shop")
    with database.session() as session:
        product_id = session.scalar(select(Product.id).where(Product.sku == "rose"))
    assert product_id is not None
    url = live_server.url
    tokens = quick_accounts(database, BUYERS_PER_DOOR, "racer")
    for token in tokens:
        httpx.post(
            f"{url}/api/v1/cart/items",
            json={"product_id": product_id, "quantity": 1},
            headers=auth(token),
        ).raise_for_status()
    checkouts = []
    for _ in range(BUYERS_PER_DOOR):
        created = httpx.post(
            f"{url}/ucp/v1/checkout-sessions", json=create_body(), headers=headers()
        )
        assert created.json()["status"] == "ready_for_complete", created.text
        checkouts.append(created.json()["id"])
    _set_stock(database, product_id, LAST_UNITS)

    def rest(index: int) -> httpx.Response:
        return httpx.post(
            f"{url}/api/v1/orders",
            headers={**auth(tokens[index]), "Idempotency-Key": str(uuid.uuid4())},
            timeout=120,
        )

    def ucp(index: int) -> httpx.Response:
        return httpx.post(
            f"{url}/ucp/v1/checkout-sessions/{checkouts[index]}/complete",
            json=payment(),
            headers=headers(),
            timeout=120,
        )

    jobs = [(rest, i) for i in range(BUYERS_PER_DOOR)] + [(ucp, i) for i in range(BUYERS_PER_DOOR)]
    results: list[Any] = [None] * len(jobs)
    barrier = threading.Barrier(len(jobs))

    def run(slot: int) -> None:
        barrier.wait()
        work, index = jobs[slot]
        results[slot] = work(index)

    threads = [threading.Thread(target=run, args=(slot,)) for slot in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    won = [r for r in results if r.status_code in (200, 201)]
    lost = [r for r in results if r.status_code not in (200, 201)]
    assert len(won) == LAST_UNITS, [r.text for r in results if r.status_code >= 500]
    assert {r.status_code for r in lost} == {409}
    assert all("stock" in r.text.lower() for r in lost)
    with database.session() as session:
        assert session.scalar(select(Product.stock).where(Product.id == product_id)) == 0
        sold = session.scalar(
            select(func.sum(OrderItem.quantity)).where(OrderItem.product_id == product_id)
        )
        channels = session.scalars(
            select(Order.channel).join(OrderItem).where(OrderItem.product_id == product_id)
        ).all()
    assert sold == LAST_UNITS
    assert len(channels) == LAST_UNITS
    ucp_won = sum(1 for (work, _), r in zip(jobs, results, strict=True) if work is ucp and r in won)
    assert channels.count("ucp") == ucp_won


def test_a_double_submitted_completion_buys_once_and_answers_both_alike(
    live_server: LiveServer, database: Database, tmp_path: Path
) -> None:
    load_shop(database, tmp_path / "shop")
    url = live_server.url
    checkout = httpx.post(f"{url}/ucp/v1/checkout-sessions", json=create_body(), headers=headers())
    same_key = headers()
    results: list[Any] = [None, None]
    barrier = threading.Barrier(2)

    def complete(slot: int) -> None:
        barrier.wait()
        results[slot] = httpx.post(
            f"{url}/ucp/v1/checkout-sessions/{checkout.json()['id']}/complete",
            json=payment(),
            headers=same_key,
            timeout=60,
        )

    threads = [threading.Thread(target=complete, args=(slot,)) for slot in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status_code for r in results] == [200, 200], [r.text for r in results]
    assert results[0].json() == results[1].json()
    with database.session() as session:
        assert len(session.scalars(select(Order).where(Order.channel == "ucp")).all()) == 1
