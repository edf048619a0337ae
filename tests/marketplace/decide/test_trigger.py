"""The offer comes after enough recent views of one category; before that a 4xx says what to do."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from marketplace.core.appstate import state_of
from marketplace.core.db import Database
from marketplace.decide.config import DecideConfig
from marketplace.decide.service import offered_category
from tests.conftest import TEST_NOW
from tests.marketplace.decide._helpers import in_stock_ids, new_shopper, record

DECIDE = "/api/v1/help-me-decide"
OFFER = "/api/v1/help-me-decide/offer"


def test_no_offer_and_a_409_that_says_what_to_do_without_views(client: TestClient) -> None:
    headers, _ = new_shopper(client)
    offer = client.get(OFFER, headers=headers)
    assert offer.status_code == 200
    assert offer.json()["offered"] is False
    assert offer.json()["category"] is None

    answer = client.post(DECIDE, headers=headers)
    assert answer.status_code == 409
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["type"] == "/problems/not-enough-signal"
    assert "View at least 3 products of one category first" in problem["detail"]


def test_offer_appears_at_three_distinct_views_of_one_category(
    client: TestClient, database: Database
) -> None:
    headers, account = new_shopper(client)
    first, second, third = in_stock_ids(database, "tents", 3)
    # Viewing the same product again does not count as another product.
    record(database, account, views=[first, second, second], slug="tents")
    offer = client.get(OFFER, headers=headers).json()
    assert offer["offered"] is False
    assert offer["viewed_by_category"] == {"tents": 2}
    answer = client.post(DECIDE, headers=headers)
    assert answer.status_code == 409
    assert "View at least 1 more product(s) in tents" in answer.json()["detail"]

    record(database, account, views=[third], slug="tents")
    offer = client.get(OFFER, headers=headers).json()
    assert offer == {
        "offered": True,
        "category": "tents",
        "viewed": 3,
        "needed": 3,
        "window_hours": 72.0,
        "viewed_by_category": {"tents": 3},
        "message": offer["message"],
    }
    decided = client.post(DECIDE, headers=headers)
    assert decided.status_code == 200, decided.text
    assert decided.json()["category"] == "tents"


def test_views_older_than_the_window_do_not_trigger(client: TestClient, database: Database) -> None:
    headers, account = new_shopper(client)
    ids = in_stock_ids(database, "monitors", 3)
    record(database, account, views=ids, slug="monitors", at=TEST_NOW - timedelta(hours=73))
    assert client.get(OFFER, headers=headers).json()["offered"] is False
    assert client.post(DECIDE, headers=headers).status_code == 409


def test_views_spread_over_categories_do_not_trigger(
    client: TestClient, database: Database
) -> None:
    headers, account = new_shopper(client)
    record(database, account, views=in_stock_ids(database, "tents", 2), slug="tents")
    record(database, account, views=in_stock_ids(database, "laptops", 2), slug="laptops")
    assert client.get(OFFER, headers=headers).json()["offered"] is False


def test_the_most_recently_viewed_eligible_category_triggers(
    client: TestClient, database: Database
) -> None:
    headers, account = new_shopper(client)
    record(
        database,
        account,
        views=in_stock_ids(database, "tents", 4),
        slug="tents",
        at=TEST_NOW - timedelta(hours=5),
    )
    record(database, account, views=in_stock_ids(database, "laptops", 3), slug="laptops")
    assert client.get(OFFER, headers=headers).json()["category"] == "laptops"
    # An explicit category overrides the default, when it too has enough views.
    chosen = client.post(DECIDE, headers=headers, json={"category": "tents"})
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["category"] == "tents"


def test_an_explicit_category_needs_its_own_views(client: TestClient, database: Database) -> None:
    headers, account = new_shopper(client)
    record(database, account, views=in_stock_ids(database, "tents", 3), slug="tents")
    answer = client.post(DECIDE, headers=headers, json={"category": "blenders"})
    assert answer.status_code == 409
    assert "View at least 3 more product(s) in blenders" in answer.json()["detail"]


def test_an_unknown_category_is_a_404_that_lists_the_real_ones(client: TestClient) -> None:
    headers, _ = new_shopper(client)
    answer = client.post(DECIDE, headers=headers, json={"category": "spaceships"})
    assert answer.status_code == 404
    assert "headphones" in answer.json()["detail"]


def test_the_threshold_and_window_are_configurable(
    app: FastAPI, client: TestClient, database: Database
) -> None:
    state_of(app).decide_config = DecideConfig(min_viewed_products=2, trigger_window_hours=200)
    headers, account = new_shopper(client)
    record(
        database,
        account,
        views=in_stock_ids(database, "tents", 2),
        slug="tents",
        at=TEST_NOW - timedelta(hours=150),
    )
    offer = client.get(OFFER, headers=headers).json()
    assert offer["offered"] is True
    assert offer["needed"] == 2


def test_anonymous_shoppers_are_offered_it_by_their_session(
    client: TestClient, database: Database
) -> None:
    from marketplace.core.security import hash_token
    from marketplace.history.service import record_event

    first = client.get(OFFER)  # starts an anonymous session (cookie)
    assert first.json()["offered"] is False
    cookie = client.cookies.get("nile_session")
    assert cookie
    token = state_of(client.app).cookie_signer.loads(cookie)  # type: ignore[attr-defined]
    with database.session() as session:
        for pid in in_stock_ids(database, "blenders", 3):
            record_event(
                session,
                kind="view",
                now=TEST_NOW - timedelta(minutes=2),
                account_id=None,
                session_key=hash_token(token),
                product_id=pid,
                category_slug="blenders",
            )
    assert client.get(OFFER).json()["category"] == "blenders"
    assert client.post(DECIDE).status_code == 200


@pytest.mark.parametrize("count", [2, 3])
def test_offered_category_service_function(database: Database, count: int) -> None:
    from marketplace.accounts.service import hash_password, register

    with database.session() as session:
        account = register(
            session,
            email=f"svc{count}@example.com",
            password_hash=hash_password("x" * 10),
            name="S",
            now=TEST_NOW,
        )
        session.flush()
        account_id = account.id
    record(database, account_id, views=in_stock_ids(database, "tents", count), slug="tents")
    with database.session() as session:
        found = offered_category(
            session, account_id=account_id, session_key=None, now=TEST_NOW, config=DecideConfig()
        )
    assert found == ("tents" if count >= 3 else None)
