"""No oversell across doors: REST, UCP and ACP buyers race for the last units of one product, on
SQLite and PostgreSQL, over real HTTP."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

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

ACP = {"API-Version": "2025-09-29"}
ADDRESS = {
    "name": "Ada Lovelace",
    "line_one": "12 Market Street",
    "city": "San Francisco",
    "state": "CA",
    "country": "US",
    "postal_code": "94103",
}
PER_DOOR = 8
UNITS = 5


@pytest.fixture
def policy(tmp_path: Path) -> str:
    return quiet_gate_policy(tmp_path)


def _race(work: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    barrier = threading.Barrier(len(work))
    results: list[Any] = [None] * len(work)

    def run(index: int) -> None:
        barrier.wait()
        results[index] = work[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _rest_buyers(url: str, database: Database, product: int) -> list[Callable[[], httpx.Response]]:
    tokens = quick_accounts(database, PER_DOOR, "rest-racer")
    for token in tokens:
        added = httpx.post(
            f"{url}/api/v1/cart/items",
            json={"product_id": product, "quantity": 1},
            headers=auth(token),
        )
        assert added.status_code == 201, added.text

    def buyer(index: int) -> Callable[[], httpx.Response]:
        def buy() -> httpx.Response:
            headers = {**auth(tokens[index]), "Idempotency-Key": f"rest-{index}"}
            return httpx.post(f"{url}/api/v1/orders", headers=headers, timeout=120)

        return buy

    return [buyer(i) for i in range(PER_DOOR)]


def _acp_buyers(url: str, product: int) -> list[Callable[[], httpx.Response]]:
    work = []
    for index in range(PER_DOOR):
        created = httpx.post(
            f"{url}/checkout_sessions",
            json={"items": [{"id": str(product), "quantity": 1}], "fulfillment_address": ADDRESS},
            headers={**ACP, "Idempotency-Key": f"acp-create-{index}"},
        )
        assert created.status_code == 201, created.text
        assert created.json()["status"] == "ready_for_payment"
        path = f"{url}/checkout_sessions/{created.json()['id']}/complete"

        def buy(path: str = path, index: int = index) -> httpx.Response:
            return httpx.post(
                path,
                json={"payment_data": {"token": "spt_test_race"}},
                headers={**ACP, "Idempotency-Key": f"acp-pay-{index}"},
                timeout=120,
            )

        work.append(buy)
    return work


def _ucp_buyers(url: str, product: int) -> list[Callable[[], httpx.Response]]:
    destination = {
        "id": "dest_race",
        "street_address": "12 Market Street",
        "address_locality": "San Francisco",
        "address_region": "CA",
        "postal_code": "94103",
        "address_country": "US",
    }
    work = []
    for index in range(PER_DOOR):
        created = httpx.post(
            f"{url}/ucp/v1/checkout-sessions",
            json={
                "currency": "USD",
                "line_items": [{"item": {"id": str(product)}, "quantity": 1}],
                "fulfillment": {
                    "methods": [
                        {
                            "type": "shipping",
                            "destinations": [destination],
                            "selected_destination_id": "dest_race",
                        }
                    ]
                },
            },
            headers={"Idempotency-Key": f"ucp-create-{index}"},
        )
        assert created.status_code == 201, created.text
        checkout = created.json()
        [group] = checkout["fulfillment"]["methods"][0]["groups"]
        option = group["options"][0]["id"]
        chosen = httpx.put(
            f"{url}/ucp/v1/checkout-sessions/{checkout['id']}",
            json={
                "fulfillment": {
                    "methods": [
                        {
                            "id": checkout["fulfillment"]["methods"][0]["id"],
                            "groups": [{"selected_option_id": option}],
                        }
                    ]
                }
            },
            headers={"Idempotency-Key": f"ucp-option-{index}"},
        )
        assert chosen.status_code == 200, chosen.text
        assert chosen.json()["status"] == "ready_for_complete", chosen.text
        path = f"{url}/ucp/v1/checkout-sessions/{checkout['id']}/complete"

        def buy(path: str = path, index: int = index) -> httpx.Response:
            payment = {
                "handler_id": "mock_payment_handler",
                "credential": {"type": "token", "token": "tok_race"},
            }
            return httpx.post(
                path,
                json={"payment_data": payment},
                headers={"Idempotency-Key": f"ucp-pay-{index}"},
                timeout=120,
            )

        work.append(buy)
    return work


def _sold(database: Database, product: int) -> dict[str, int]:
    with database.session() as session:
        rows = session.execute(
            select(Order.channel, func.sum(OrderItem.quantity))
            .join(Order, Order.id == OrderItem.order_id)
            .where(OrderItem.product_id == product)
            .group_by(Order.channel)
        ).all()
    return {channel: int(n) for channel, n in rows}


def test_rest_and_protocol_buyers_never_oversell_the_last_units(
    live_server: LiveServer, database: Database
) -> None:
    product = product_with_stock(database)
    set_stock(database, product, 100)
    before = sum(_sold(database, product).values())
    url = live_server.url
    work = (
        _rest_buyers(url, database, product) + _acp_buyers(url, product) + _ucp_buyers(url, product)
    )
    set_stock(database, product, UNITS)
    answers = _race(work)
    assert not [a.text for a in answers if a.status_code >= 500]
    won = [a for a in answers if a.status_code in (200, 201)]
    assert len(won) == UNITS, [(a.status_code, a.text[:120]) for a in answers]
    lost = [a for a in answers if a not in won]
    assert {a.status_code for a in lost} == {409}
    assert stock_of(database, product) == 0
    sold = _sold(database, product)
    assert sum(sold.values()) == before + UNITS
    # Refusals speak each door's language: problem+json on REST (with UCP messages on UCP),
    # ACP's error object on ACP.
    for answer in lost:
        body = answer.json()
        assert body.get("code") == "out_of_stock" or "out-of-stock" in body.get("type", ""), body
