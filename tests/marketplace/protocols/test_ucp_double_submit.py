"""A UCP completion submitted twice at once with one idempotency key buys once (both databases).

The race of REST, UCP and ACP buyers for the last units is tests/marketplace/test_protocol_race.py.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from marketplace.core.db import Database
from marketplace.orders.models import Order
from sandbox.liveserver import LiveServer
from tests.marketplace._shop import quiet_gate_policy
from tests.marketplace.protocols._ucp import create_body, headers, load_shop, payment

BUYERS_PER_DOOR = 8
LAST_UNITS = 5


@pytest.fixture
def policy(tmp_path: Path) -> str:
    return quiet_gate_policy(tmp_path)


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
