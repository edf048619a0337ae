"""The HTML storefront through HTTP, on SQLite and PostgreSQL: pages, accounts, forms, CSRF."""

from __future__ import annotations

import importlib
import pkgutil
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from marketplace.catalog.models import AdImpression, Category
from marketplace.core.db import Database
from marketplace.core.security import SESSION_COOKIE
from marketplace.storefront import pages
from tests.conftest import CHROME_UA
from tests.marketplace._storefront import (
    HTML,
    PASSWORD,
    csrf_of,
    hidden,
    in_stock_product,
    prices,
    register,
)


def test_home_shows_categories_and_products_in_the_layout(client: TestClient) -> None:
    response = client.get("/", headers=HTML)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "Nile" in page
    assert 'href="#main"' in page
    assert '<main id="main"' in page
    assert "/search?category=headphones" in page
    assert page.count('class="card product-card') >= 4
    assert "default-src 'self'" in response.headers["content-security-policy"]


def test_search_filters_sort_and_paginate(client: TestClient, database: Database) -> None:
    with database.session() as session:
        names = dict(session.execute(select(Category.slug, Category.name)).all())
    response = client.get(
        "/search",
        params={
            "category": "headphones",
            "min_price": "20",
            "max_price": "400",
            "min_rating": "3",
            "sort": "price_asc",
        },
    )
    assert response.status_code == 200
    page = response.text
    assert names["headphones"] in page
    found = prices(page)
    assert found, "no results for a wide headphone filter"
    organic = [p for p in found if 20 <= p <= 400]
    assert organic == found, "a result outside the price filter"
    assert re.search(r"[0-9,]+ results?", page)
    # Sponsored slots are marked, and the organic results keep the requested order.
    organic_html = re.sub(
        r'<article class="card product-card is-sponsored[^"]*">.*?</article>', "", page, flags=re.S
    )
    organic_prices = prices(organic_html)
    assert organic_prices == sorted(organic_prices)
    if "is-sponsored" in page:
        assert "Sponsored" in page


def test_search_by_words_and_empty_filters(client: TestClient) -> None:
    response = client.get(
        "/search", params={"q": "headphones", "min_price": "", "max_price": "", "min_rating": ""}
    )
    assert response.status_code == 200
    assert "Results for “headphones”" in response.text
    assert prices(response.text)


def test_search_explains_unusable_filters_instead_of_failing(client: TestClient) -> None:
    response = client.get("/search", params={"min_price": "cheap", "category": "spaceships"})
    assert response.status_code == 200
    assert "not a number" in response.text
    assert "no category “spaceships”" in response.text


def test_search_pages_link_to_each_other(client: TestClient) -> None:
    first = client.get("/search")
    assert 'rel="next"' in first.text
    href = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert href
    second = client.get(href.group(1).replace("&amp;", "&"))
    assert second.status_code == 200
    assert 'aria-current="page" href="/search?' in second.text
    assert parse_qs(urlsplit(href.group(1).replace("&amp;", "&")).query)["page"] == ["2"]


def test_odd_urls_get_store_pages_rather_than_errors(client: TestClient) -> None:
    past = client.get("/search", params={"category": "tents", "page": "999"})
    assert past.status_code == 200
    assert "Go to the last page" in past.text
    for path in ("/products/not-a-number", "/products/0"):
        response = client.get(path, headers=HTML)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/html")
        assert '<main id="main"' in response.text


def test_html_searches_are_recorded_with_their_ad_impressions(
    client: TestClient, database: Database
) -> None:
    response = client.get("/search", params={"q": "tent", "category": "tents"})
    assert response.status_code == 200
    history = client.get("/api/v1/me/history", params={"kind": "search"}).json()["items"]
    assert history[0]["query"] == "tent"
    assert history[0]["category"] == "tents"
    with database.session() as session:
        shown = session.scalars(select(AdImpression)).all()
    served = response.text.count("is-sponsored")
    assert len(shown) == served
    assert {impression.visitor_class for impression in shown} <= {
        response.headers["x-visitor-class"]
    }


def test_help_me_decide_is_offered_after_several_views_and_shows_picks(
    client: TestClient,
) -> None:
    listing = client.get("/search", params={"category": "headphones", "sort": "rating"})
    ids = re.findall(r'<a href="/products/(\d+)">', listing.text)
    distinct = list(dict.fromkeys(ids))
    first = client.get(f"/products/{distinct[0]}")
    assert "Help Me Decide" not in first.text
    for product_id in distinct[1:4]:
        page = client.get(f"/products/{product_id}")
    assert 'action="/help-me-decide"' in page.text
    picks = client.post(
        "/help-me-decide",
        data={"csrf_token": csrf_of(page.text), "category": hidden(page.text, "category")},
    )
    assert picks.status_code == 200
    assert "Our pick for you" in picks.text
    assert '<ul class="reasons">' in picks.text
    assert 'action="/cart/items"' in picks.text


def test_help_me_decide_without_enough_views_explains_what_to_do(client: TestClient) -> None:
    page = client.get("/login")
    response = client.post(
        "/help-me-decide", data={"csrf_token": csrf_of(page.text), "category": "tents"}
    )
    assert response.status_code == 200
    assert "Our pick for you" not in response.text
    assert "View at least" in response.text


def test_product_page_shows_details_and_a_cart_form(client: TestClient, database: Database) -> None:
    product_id, title = in_stock_product(database)
    response = client.get(f"/products/{product_id}", headers=HTML)
    assert response.status_code == 200
    page = response.text
    assert title.replace("&", "&amp;").replace('"', "&#34;") in page or title in page
    assert "Specifications" in page
    assert '<th scope="row">' in page
    assert re.search(r"\([0-9,]+ reviews?\)|No reviews yet", page)
    assert "Sold by" in page
    assert 'action="/cart/items"' in page
    assert 'name="quantity"' in page


def test_unknown_product_is_a_404_page(client: TestClient) -> None:
    response = client.get("/products/999999", headers=HTML)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Back to the store" in response.text


def test_a_page_that_does_not_exist_talks_to_a_shopper(client: TestClient) -> None:
    response = client.get("/no-such-page", headers=HTML)
    assert response.status_code == 404
    assert "Search for what you need" in response.text
    assert "/api/v1" not in response.text
    api = client.get("/no-such-page", headers={"accept": "application/json"})
    assert "/api/v1" in api.json()["detail"]


def test_pages_that_need_an_account_send_visitors_to_login(client: TestClient) -> None:
    for path in ("/cart", "/checkout", "/orders", "/orders/1"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        location = response.headers["location"]
        assert location.startswith("/login?next="), location
        assert parse_qs(urlsplit(location).query)["next"] == [path]


# --- Accounts and CSRF ------------------------------------------------------------------------


def test_register_logs_in_with_a_new_session(client: TestClient) -> None:
    client.get("/register")
    anonymous = client.cookies.get(SESSION_COOKIE)
    assert anonymous
    register(client, "reg@example.com", name="Reggie")
    assert client.cookies.get(SESSION_COOKIE) not in (None, anonymous)
    home = client.get("/")
    assert "Hi, Reggie" in home.text
    assert "Log out" in home.text
    assert "Welcome to Nile, Reggie" in home.text


def test_login_form_starts_a_new_session_and_returns_to_next(
    client: TestClient, app: FastAPI
) -> None:
    register(client, "login@example.com")
    client.cookies.clear()

    page = client.get("/login", params={"next": "/orders"})
    planted = client.cookies.get(SESSION_COOKIE)
    response = client.post(
        "/login",
        data={
            "csrf_token": csrf_of(page.text),
            "email": "LOGIN@example.com",
            "password": PASSWORD,
            "next": "/orders",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/orders"
    assert client.cookies.get(SESSION_COOKIE) != planted
    # The session id the browser had before logging in opens nothing afterwards.
    with TestClient(app, headers={"user-agent": CHROME_UA}) as attacker:
        attacker.cookies.set(SESSION_COOKIE, str(planted))
        assert attacker.get("/orders", follow_redirects=False).status_code == 303
    assert client.get("/orders").status_code == 200


def test_login_never_redirects_off_site(client: TestClient) -> None:
    register(client, "next@example.com")
    client.cookies.clear()
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "csrf_token": csrf_of(page.text),
            "email": "next@example.com",
            "password": PASSWORD,
            "next": "//evil.example/steal",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_wrong_password_shows_the_form_again(client: TestClient) -> None:
    register(client, "wrong@example.com")
    client.cookies.clear()
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"csrf_token": csrf_of(page.text), "email": "wrong@example.com", "password": "nope"},
    )
    assert response.status_code == 401
    assert "do not match" in response.text
    assert 'value="wrong@example.com"' in response.text


def test_register_form_errors_are_explained(client: TestClient) -> None:
    page = client.get("/register")
    short = client.post(
        "/register",
        data={
            "csrf_token": csrf_of(page.text),
            "name": "Shorty",
            "email": "short@example.com",
            "password": "short",
        },
    )
    assert short.status_code == 422
    assert "at least 8 characters" in short.text
    register(client, "taken@example.com")
    client.cookies.clear()
    page = client.get("/register")
    taken = client.post(
        "/register",
        data={
            "csrf_token": csrf_of(page.text),
            "name": "Again",
            "email": "taken@example.com",
            "password": PASSWORD,
        },
    )
    assert taken.status_code == 409
    assert "already exists" in taken.text
    page = client.get("/register")
    reserved = client.post(
        "/register",
        data={
            "csrf_token": csrf_of(page.text),
            "name": "Squatter",
            "email": "team-01@teams.nile.example",
            "password": PASSWORD,
        },
    )
    assert reserved.status_code == 403
    assert "reserved for workshop teams" in reserved.text


def test_logout_ends_the_session(client: TestClient) -> None:
    register(client, "bye@example.com")
    home = client.get("/")
    response = client.post(
        "/logout", data={"csrf_token": csrf_of(home.text)}, follow_redirects=False
    )
    assert response.status_code == 303
    home = client.get("/")
    assert "You are logged out." in home.text
    assert "Log out" not in home.text
    assert client.get("/orders", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("token", [None, "", "0" * 64])
def test_form_posts_without_the_csrf_token_are_refused(
    client: TestClient, database: Database, token: str | None
) -> None:
    register(client, "csrf@example.com")
    product_id, _ = in_stock_product(database)
    data: dict[str, str | int] = {"product_id": product_id, "quantity": 1}
    if token is not None:
        data["csrf_token"] = token
    response = client.post("/cart/items", data=data, headers=HTML)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "security token" in response.text
    assert "Your cart is empty" in client.get("/cart").text

    logout = client.post("/logout", data={}, follow_redirects=False)
    assert logout.status_code == 403
    assert "Log out" in client.get("/").text


def store_page_routes() -> list[APIRoute]:
    """The routes of every module of the storefront's pages package, a module added later too."""
    modules = [
        importlib.import_module(f"{pages.__name__}.{info.name}")
        for info in pkgutil.iter_modules(pages.__path__)
    ]
    routers = [
        module.router
        for module in modules
        if isinstance(getattr(module, "router", None), APIRouter)
    ]
    return [route for router in routers for route in router.routes if isinstance(route, APIRoute)]


def test_every_storefront_form_post_checks_the_csrf_token(client: TestClient) -> None:
    register(client, "every@example.com")
    posts = [
        route.path.replace("{product_id}", "1")
        for route in store_page_routes()
        if "POST" in route.methods
    ]
    assert {"/login", "/register", "/logout", "/cart/items", "/checkout"} <= set(posts)
    for path in posts:
        response = client.post(path, data={"quantity": 1, "product_id": 1}, headers=HTML)
        assert response.status_code == 403, path
        assert "security token" in response.text


def test_a_token_from_another_session_is_refused(client: TestClient, app: FastAPI) -> None:
    foreign = csrf_of(client.get("/login").text)
    with TestClient(app, headers={"user-agent": CHROME_UA}) as other:
        other.get("/login")
        response = other.post(
            "/login", data={"csrf_token": foreign, "email": "x@example.com", "password": "y"}
        )
    assert response.status_code == 403


# --- Cart, checkout and orders ------------------------------------------------------------------


def test_the_history_page_says_what_the_store_recorded(client: TestClient) -> None:
    client.get("/search?q=tent", headers=HTML)
    client.get("/products/1", headers=HTML)
    page = client.get("/history", headers=HTML)
    assert page.status_code == 200
    assert "knows about you" in page.text
    assert "Searched for \u201ctent\u201d" in page.text
    assert "Looked at <a" not in page.text  # the whole sentence is the link
    assert '<a href="/products/1">Looked at ' in page.text
    register(client, "history@example.com")
    after = client.get("/history", headers=HTML)
    assert '<a href="/products/1">Looked at ' in after.text  # the account kept the visit
