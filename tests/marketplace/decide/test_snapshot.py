"""Each worker keeps a copy of a category's products; these check it never shows a stale answer.

An order is noticed at once (the highest order id moves on); a new product (the highest product
id) makes the copy stale, and the app's background refresher reads the category again while the
requests meanwhile answer from the copy; a change made around the platform shows in the picks at
once, because the picks are re-read before answering.
"""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from marketplace.app import create_app
from marketplace.cart.schemas import MAX_LINE_QUANTITY
from marketplace.catalog.models import Category, Product
from marketplace.core.clock import FrozenClock
from marketplace.core.db import Database
from marketplace.core.settings import Settings
from marketplace.decide import snapshot
from marketplace.decide.config import DecideConfig
from tests.conftest import CHROME_UA
from tests.marketplace.decide._helpers import in_stock_ids, new_shopper, record


def _decide(client: TestClient, headers: dict[str, str]) -> dict[str, object]:
    answer = client.post("/api/v1/help-me-decide", json={"category": "tents"}, headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def _stock(database: Database, product_id: int) -> int:
    with database.session() as session:
        return int(session.scalar(select(Product.stock).where(Product.id == product_id)) or 0)


def test_a_top_pick_that_sold_out_around_the_platform_is_not_recommended(
    client: TestClient, database: Database
) -> None:
    headers, me = new_shopper(client)
    record(database, me, views=in_stock_ids(database, "tents", 3), slug="tents")
    first = _decide(client, headers)
    top = first["top_pick"]["product"]["id"]  # type: ignore[index]
    with database.session() as session:
        session.execute(update(Product).where(Product.id == top).values(stock=0))

    again = _decide(client, headers)
    picks = [again[k] for k in ("top_pick", "budget_pick", "premium_pick") if again[k]]
    assert top not in [p["product"]["id"] for p in picks]  # type: ignore[index]
    assert again["compared"] == first["compared"] - 1  # type: ignore[operator]
    for pick in picks:
        product = pick["product"]  # type: ignore[index]
        assert product["stock"] == _stock(database, product["id"]) > 0


def test_an_order_that_sells_out_a_product_takes_it_out_of_the_comparison(
    client: TestClient, database: Database
) -> None:
    headers, me = new_shopper(client)
    record(database, me, views=in_stock_ids(database, "tents", 3), slug="tents")
    first = _decide(client, headers)
    picked = {
        first[k]["product"]["id"]  # type: ignore[index]
        for k in ("top_pick", "budget_pick", "premium_pick")
        if first[k]
    }
    with database.session() as session:
        victim = session.scalar(
            select(Product.id)
            .join(Category, Category.id == Product.category_id)
            .where(Category.slug == "tents", Product.stock.between(1, MAX_LINE_QUANTITY))
            .where(Product.id.not_in(picked))
            .order_by(Product.id)
        )
    assert victim is not None, "the test catalog needs a tent one cart line can sell out"
    buyer, _ = new_shopper(client)
    added = client.post(
        "/api/v1/cart/items",
        json={"product_id": victim, "quantity": _stock(database, victim)},
        headers=buyer,
    )
    assert added.status_code in (200, 201), added.text
    order = client.post("/api/v1/orders", headers={**buyer, "Idempotency-Key": "sell-out"})
    assert order.status_code in (200, 201), order.text
    assert _stock(database, victim) == 0

    again = _decide(client, headers)
    assert again["compared"] == first["compared"] - 1  # type: ignore[operator]


def test_a_new_product_joins_the_comparison(client: TestClient, database: Database) -> None:
    headers, me = new_shopper(client)
    record(database, me, views=in_stock_ids(database, "tents", 3), slug="tents")
    first = _decide(client, headers)
    with database.session() as session:
        template = session.scalars(
            select(Product)
            .join(Category, Category.id == Product.category_id)
            .where(Category.slug == "tents", Product.stock > 0)
            .order_by(Product.id)
        ).first()
        assert template is not None
        session.add(
            Product(
                sku="TENT-NEW-1",
                title="Brand-new tent",
                description="Just in.",
                category_id=template.category_id,
                brand=template.brand,
                is_house_brand=False,
                price=template.price,
                cost=template.cost,
                rating=template.rating,
                review_count=0,
                stock=10,
                seller=template.seller,
                seller_type=template.seller_type,
                sponsored_bid=0.0,
                attributes=dict(template.attributes),
                created_at=template.created_at,
            )
        )
    # Read again in the background, not on the request that found the copy stale: the answers
    # meanwhile come from the copy, and the new product joins within a few of the refresher's
    # ticks (bounded, so a refresher that never runs fails the test).
    deadline = time.monotonic() + 10
    seen = [_decide(client, headers)["compared"]]
    while seen[-1] != first["compared"] + 1 and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.1)
        seen.append(_decide(client, headers)["compared"])
    assert seen[-1] == first["compared"] + 1, seen  # type: ignore[operator]
    assert set(seen) <= {first["compared"], first["compared"] + 1}  # type: ignore[operator]


@pytest.mark.parametrize("warm", ["*", "tents,no-such-category"])
def test_categories_warmed_at_start_answer_like_cold_ones(
    settings: Settings, database: Database, clock: FrozenClock, warm: str
) -> None:
    """An app that reads categories as it starts (SANDBOX_DECIDE_WARM_CATEGORIES) starts, skips a
    slug no category has, and answers exactly as an app that reads them on the first ask."""
    answers = []
    for config in (DecideConfig(), DecideConfig(warm_categories=warm)):
        snapshot.clear()
        app = create_app(settings, database=database, clock=clock, decide_config=config)
        with TestClient(app, headers={"user-agent": CHROME_UA}) as client:
            headers, me = new_shopper(client)
            record(database, me, views=in_stock_ids(database, "tents", 3), slug="tents")
            answer = _decide(client, headers)
        answers.append(
            {k: answer[k] for k in ("top_pick", "budget_pick", "premium_pick", "compared")}
        )
    assert answers[0]["compared"] > 0  # type: ignore[operator]
    assert answers[1] == answers[0]


def test_a_shoppers_own_new_views_and_search_show_in_their_next_answer(
    client: TestClient, database: Database
) -> None:
    """Views and searches are queued (written behind), and the product facts come from the
    worker's copy: the next answer still counts the views and obeys the search at once."""
    headers, _ = new_shopper(client)
    tents = in_stock_ids(database, "tents", 3)
    for pid in tents:
        assert client.get(f"/api/v1/products/{pid}", headers=headers).status_code == 200
    first = _decide(client, headers)  # the three views, still queued or just written
    assert first["constraints"] == []
    with database.session() as session:
        prices = sorted(
            session.scalars(
                select(Product.price)
                .join(Category, Category.id == Product.category_id)
                .where(Category.slug == "tents", Product.stock > 0)
            )
        )
    limit = int(prices[len(prices) // 2]) + 1
    found = client.get("/api/v1/products", params={"q": f"tent under ${limit}"}, headers=headers)
    assert found.status_code == 200, found.text
    again = _decide(client, headers)
    assert again["constraints"], again["notes"]
    picks = [again[k] for k in ("top_pick", "budget_pick", "premium_pick") if again[k]]
    assert all(p["product"]["price"] <= limit for p in picks)  # type: ignore[index]
