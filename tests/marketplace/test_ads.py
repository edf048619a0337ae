"""Sponsored listings: the click links they carry, the clicks they record, what advertisers pay."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from marketplace.catalog import slates
from marketplace.catalog.models import AdImpression, Product
from marketplace.core.appstate import state_of
from marketplace.core.db import Database
from tests.conftest import ADMIN_TOKEN, TEST_NOW, register_and_login
from tests.marketplace._shop import set_stock

ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}
HTML = {"accept": "text/html"}
_AD_LINK = re.compile(r'href="/products/(\d+)\?ad=(\d+)"')


def stats(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get(
        "/api/v1/admin/stats", params={"since": TEST_NOW.isoformat(), **params}, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ad_links(client: TestClient) -> list[tuple[int, int]]:
    page = client.get("/search", params={"q": "headphones"}, headers=HTML)
    assert page.status_code == 200
    links = [(int(p), int(i)) for p, i in _AD_LINK.findall(page.text)]
    assert links, "the search page serves no ads"
    return links


def test_sponsored_cards_link_to_their_own_impression(
    client: TestClient, database: Database
) -> None:
    links = ad_links(client)
    with database.session() as session:
        impressions = {i.id: i for i in session.scalars(select(AdImpression))}
    for product_id, impression_id in links:
        assert impressions[impression_id].product_id == product_id
    api = client.get("/api/v1/products", params={"q": "headphones"}).json()["items"]
    sponsored = [item for item in api if item["sponsored"]]
    assert sponsored
    assert all(item["ad_click"].startswith(f"/products/{item['id']}?ad=") for item in sponsored)
    assert all(item["ad_click"] is None for item in api if not item["sponsored"])


def test_a_persons_click_is_charged_once_at_the_bid(client: TestClient, database: Database) -> None:
    product_id, impression_id = ad_links(client)[0]
    with database.session() as session:
        bid = session.get(AdImpression, impression_id).bid  # type: ignore[union-attr]
    before = stats(client)["revenue"]["ads"]
    for _ in range(2):  # a second open of the same link is not a second click
        opened = client.get(f"/products/{product_id}", params={"ad": impression_id}, headers=HTML)
        assert opened.status_code == 200
        assert opened.headers["x-visitor-class"] == "human"
    after = stats(client)
    assert after["ads"]["clicks_by_class"] == {"human": 1}
    assert round(after["revenue"]["ads"] - before, 2) == round(bid, 2)
    assert after["revenue"]["total"] == round(after["revenue"]["margin"] + bid, 2)


def test_a_link_that_names_another_products_ad_charges_nothing(client: TestClient) -> None:
    (product_id, impression_id), *_ = ad_links(client)
    other = product_id + 1
    assert client.get(f"/products/{other}", params={"ad": impression_id}).status_code == 200
    assert client.get("/products/1", params={"ad": 999_999_999}).status_code == 200
    assert stats(client)["ads"]["clicks"] == 0
    assert client.get("/products/1", params={"ad": "x"}, headers=HTML).status_code == 422


def test_automated_clicks_are_kept_but_never_charged(client: TestClient) -> None:
    product_id, impression_id = ad_links(client)[0]
    bot = client.get(
        f"/products/{product_id}",
        params={"ad": impression_id},
        headers={**HTML, "user-agent": "curl/8.5.0"},
    )
    assert bot.headers["x-visitor-class"] != "human"
    figures = stats(client)
    assert figures["ads"]["clicks"] == 1
    assert figures["revenue"]["ads"] == 0


def test_product_pages_show_sponsored_products_of_their_category(client: TestClient) -> None:
    product_id, _ = ad_links(client)[0]
    page = client.get(f"/products/{product_id}", headers=HTML).text
    section = page.split('id="sponsored-title"', 1)
    assert len(section) == 2, "no sponsored section under the product"
    beside = [int(p) for p, _ in _AD_LINK.findall(section[1])]
    assert beside
    assert product_id not in beside
    assert stats(client)["ads"]["impressions_by_class"]["human"] >= 2 + len(beside)


def test_stats_by_account_join_what_each_shopper_brought(client: TestClient) -> None:
    register_and_login(client, "ads-buyer@example.com")
    product_id, impression_id = ad_links(client)[0]
    client.get(f"/products/{product_id}", params={"ad": impression_id}, headers=HTML)
    accounts = stats(client, by_account="true")["accounts"]
    mine = accounts["ads-buyer@example.com"]
    assert mine["ad_clicks"] == 1
    assert mine["ad_revenue"] > 0
    assert mine["ad_impressions"] >= 2
    assert mine["events"] >= 2  # the search and the view
    assert mine["events_by_kind"]["search"] == 1
    assert "accounts" not in stats(client)


def _ads_on(client: TestClient, product_id: int) -> list[int]:
    page = client.get(f"/products/{product_id}", headers=HTML)
    assert page.status_code == 200
    return [int(p) for p, _ in _AD_LINK.findall(page.text)]


def _full_auction(database: Database, category_id: int, product_id: int) -> list[int]:
    with database.session() as session:
        ids = session.scalars(
            select(Product.id)
            .where(
                Product.category_id == category_id,
                Product.sponsored_bid > 0,
                Product.stock > 0,
                Product.id != product_id,
            )
            .order_by(Product.sponsored_bid.desc(), Product.id)
            .limit(2)
        ).all()
    return list(ids)


def test_product_page_ads_are_the_full_auctions_whatever_the_stock(
    app: FastAPI, client: TestClient, database: Database
) -> None:
    depth = 3  # the test catalog's categories have fewer bidders than a worker keeps
    state_of(app).sponsored_slates = slates.SponsoredSlates(depth=depth)
    with database.session() as session:
        category_id, bidders = session.execute(
            select(Product.category_id, func.count())
            .where(Product.sponsored_bid > 0)
            .group_by(Product.category_id)
            .order_by(func.count().desc())
            .limit(1)
        ).one()
        product_id = session.scalar(
            select(Product.id).where(Product.category_id == category_id).order_by(Product.id)
        )
    assert product_id is not None
    assert bidders > depth + 2, "the test catalog needs a category with more bidders"
    shown = _ads_on(client, product_id)
    assert shown == _full_auction(database, category_id, product_id)
    assert len(shown) == 2
    # The best ad sells out: the next page drops it at once, not when a cached list expires.
    set_stock(database, shown[0], 0)
    after = _ads_on(client, product_id)
    assert shown[0] not in after
    assert after == _full_auction(database, category_id, product_id)
    # Every bidder a worker keeps in memory sells out: the page runs the auction deeper.
    with database.session() as session:
        top = session.scalars(
            select(Product.id)
            .where(Product.category_id == category_id, Product.sponsored_bid > 0)
            .order_by(Product.sponsored_bid.desc(), Product.id)
            .limit(depth)
        ).all()
    for bidder in top:
        set_stock(database, bidder, 0)
    deeper = _ads_on(client, product_id)
    assert deeper == _full_auction(database, category_id, product_id)
    assert len(deeper) == 2
    assert not set(deeper) & set(top)
