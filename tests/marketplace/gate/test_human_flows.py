"""No person taken for a bot: cached assets, fast flows, and the challenge page's way through."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from marketplace.core.clock import FrozenClock
from marketplace.core.db import Database
from marketplace.core.shared.session_signals import SessionSignals
from marketplace.gate.facts import RequestFacts
from marketplace.gate.identity.behaviour import compute_score, request_delta
from marketplace.gate.identity.challenge import DIFFICULTY_BITS, proof_holds
from tests.marketplace._shop import product_with_stock
from tests.marketplace.gate.human_sessions import CHROME, run_sessions

T = 1_780_000_000.0
HTML = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
# A browser navigating from one of the store's pages.
SAME_ORIGIN = {**HTML, "sec-fetch-mode": "navigate", "sec-fetch-site": "same-origin"}


@pytest.fixture
def policy() -> str:
    return "closed"


def page_facts(headers: dict[str, str]) -> RequestFacts:
    return RequestFacts(
        method="GET",
        path="/products/3",
        raw_path="/products/3",
        query="",
        authority="shop.test",
        scheme="http",
        headers=(("user-agent", CHROME), *headers.items()),
        client_ip="10.0.0.1",
        session_id="c",
        route_class="product",
        is_asset=False,
    )


# --- The score ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "counts"),
    [
        ({}, 0),
        ({"sec-fetch-mode": "navigate", "sec-fetch-site": "cross-site"}, 0),
        ({"sec-fetch-mode": "navigate", "sec-fetch-site": "same-origin"}, 1),
        ({"if-none-match": '"abc"'}, 1),
        ({"if-modified-since": "Mon, 01 Jun 2026 12:00:00 GMT"}, 1),
    ],
)
def test_a_page_from_a_browser_cache_counts_as_its_assets(
    headers: dict[str, str], counts: int
) -> None:
    assert request_delta(page_facts(headers), T).assets == counts


def test_the_beacon_shows_the_page_ran_its_scripts() -> None:
    cached = SessionSignals(first_seen=T, pages=3, views=3, beacons=1)
    score, reasons = compute_score(cached, facts=None, browser_ua=True)
    assert not any("styles or scripts" in r for r in reasons)
    assert score >= 30


def test_a_fast_checkout_after_interacting_is_a_persons() -> None:
    fast = SessionSignals(
        first_seen=T, pages=2, views=1, beacons=2, pointer_events=9, key_events=14,
        first_interaction_ms=400, first_checkout=T + 1.9,
    )  # fmt: skip
    score, reasons = compute_score(fast, facts=None, browser_ua=True)
    assert reasons == ()
    assert score >= 90
    # Without any interaction the same pace is still a reason.
    idle = fast._replace(pointer_events=0, key_events=0, beacons=0)
    assert any(
        "after the first page" in r for r in compute_score(idle, facts=None, browser_ua=True)[1]
    )


def test_a_passed_challenge_scores_as_a_person_but_webdriver_does_not() -> None:
    bot_like = SessionSignals(first_seen=T, pages=5, views=5, first_checkout=T + 1)
    assert compute_score(bot_like, facts=None, browser_ua=True)[0] < 30
    passed = bot_like._replace(challenges_passed=1)
    assert compute_score(passed, facts=None, browser_ua=True)[0] >= 90
    assert compute_score(passed._replace(webdriver_beacons=1), facts=None, browser_ua=True)[0] == 1


def test_the_proof_is_checked() -> None:
    counter = next(c for c in range(1_000_000) if proof_holds("tok", c))
    assert proof_holds("tok", counter)
    assert not proof_holds("tok", counter, bits=256)
    assert DIFFICULTY_BITS >= 8


# --- Through the app under closed ---------------------------------------------------------


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def beacon(client: TestClient, page: str, **counts: Any) -> None:
    token = re.search(r'src="/static/beacon\.js" data-token="([^"]+)"', page)
    assert token
    body = {"webdriver": False, "token": token.group(1), **counts}
    sent = client.post("/api/v1/beacon", content=json.dumps(body))
    assert sent.status_code == 204


def test_product_login_add_to_cart_in_two_seconds(
    client: TestClient, clock: FrozenClock, database: Database
) -> None:
    """The issue's flow: a warm cache (no asset requests), beacons as beacon.js sends them."""
    product = product_with_stock(database, 2)
    client.cookies.clear()
    page = client.get(f"/products/{product}", headers={**HTML, "sec-fetch-site": "none"}).text
    clock.advance(seconds=0.5)
    login = client.get(f"/login?next=/products/{product}", headers=SAME_ORIGIN)
    beacon(client, page, pointer=6, first_interaction_ms=300)  # the product page, left
    clock.advance(seconds=0.7)
    beacon(client, login.text, pointer=1, keys=12, first_interaction_ms=250)
    logged_in = client.post(
        "/login",
        data={
            "email": "student@personas.nile.test",
            "password": "persona-pass-1",
            "next": f"/products/{product}",
            "csrf_token": csrf(login.text),
        },
        headers=SAME_ORIGIN,
        follow_redirects=False,
    )
    assert logged_in.status_code == 303
    page = client.get(logged_in.headers["location"], headers=SAME_ORIGIN).text
    clock.advance(seconds=0.5)
    added = client.post(
        "/cart/items",
        data={"product_id": str(product), "quantity": "1", "csrf_token": csrf(page)},
        headers=SAME_ORIGIN,
        follow_redirects=False,
    )
    assert added.headers["x-policy-decision"] == "allow", added.text
    cart = client.get("/cart", headers=SAME_ORIGIN)
    assert cart.headers["x-visitor-class"] == "human", cart.text
    assert cart.status_code == 200


def solve(token: str) -> int:
    return next(c for c in range(10_000_000) if proof_holds(token, c))


def challenged(client: TestClient) -> str:
    """Pages as a script fetches them (no assets, no beacon) until /cart is challenged."""
    client.cookies.clear()
    for path in ("/", "/search?q=tent", "/products/1", "/products/2"):
        client.get(path, headers=HTML)
    page = client.get("/cart", headers=HTML)
    assert page.status_code == 403
    assert page.headers["x-policy-decision"] == "challenge"
    assert "/static/challenge.js" in page.text
    assert "This check needs JavaScript" in page.text
    found = re.search(r"data-token='([^']+)'", page.text)
    assert found
    return found.group(1)


def test_a_challenge_page_lets_a_browser_through(client: TestClient) -> None:
    token = challenged(client)
    answer = {"token": token, "counter": solve(token), "webdriver": False}
    passed = client.post("/api/v1/challenge", json=answer)
    assert passed.status_code == 204, passed.text
    cart = client.get("/cart", headers=HTML)
    assert cart.status_code == 200
    assert cart.headers["x-visitor-class"] == "human"


@pytest.mark.parametrize(
    "change",
    [
        {"counter": "wrong"},
        {"webdriver": True},
        {"token": "0.x.0"},
    ],
)
def test_a_wrong_or_automated_answer_does_not_pass(
    client: TestClient, change: dict[str, Any]
) -> None:
    token = challenged(client)
    counter = solve(token)
    if change.get("counter") == "wrong":
        change = {
            "counter": next(c for c in range(counter + 1, 10**7) if not proof_holds(token, c))
        }
    answer = {"token": token, "counter": counter, "webdriver": False, **change}
    refused = client.post("/api/v1/challenge", json=answer)
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/challenge-failed")
    assert client.get("/cart", headers=HTML).headers["x-policy-decision"] == "challenge"


def test_another_sessions_proof_does_not_pass(client: TestClient) -> None:
    token = challenged(client)
    client.cookies.clear()
    client.get("/", headers=HTML)
    answer = {"token": token, "counter": solve(token), "webdriver": False}
    assert client.post("/api/v1/challenge", json=answer).status_code == 403


def test_api_clients_get_problem_json_not_the_page(client: TestClient) -> None:
    client.cookies.clear()
    for path in ("/", "/search?q=tent", "/products/1", "/products/2"):
        client.get(path, headers=HTML)
    answer = client.get("/api/v1/cart")
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("application/problem+json")


@pytest.mark.slow
def test_two_hundred_human_sessions_with_a_cache_are_never_challenged(
    client: TestClient, clock: FrozenClock, database: Database
) -> None:
    products = [product_with_stock(database, 5, skip) for skip in range(10)]
    figures = run_sessions(client, clock, products, count=200, seed=18)
    assert figures.sessions == 200
    assert set(figures.by_kind) == {"browse", "fast-buyer", "returning"}
    assert figures.refused_sessions == [], figures.refusals
    assert figures.suspected_requests == 0
