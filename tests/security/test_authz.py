"""Authorisation: shoppers against each other, session fixation, CSRF, login throttling, admin
routes, and secrets kept out of the logs."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from marketplace.accounts.throttle import PER_ACCOUNT, PER_CLIENT
from marketplace.core.clock import FrozenClock
from marketplace.core.db import Database
from marketplace.core.security import SESSION_COOKIE
from marketplace.gate.doors import door_of
from tests.conftest import ADMIN_TOKEN, CHROME_UA, register_and_login
from tests.marketplace._shop import auth, product_with_stock, title_of
from tests.marketplace.gate import _signing

PASSWORD = "correct-horse-9"
_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """Authorisation does not depend on the database: SQLite only, to keep the suite quick."""
    return sqlite_url


@pytest.fixture
def other(app: FastAPI) -> Iterator[TestClient]:
    """A second browser with its own cookie jar."""
    with TestClient(app, headers={"user-agent": CHROME_UA}) as second:
        yield second


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def place_order(client: TestClient, headers: dict[str, str], product_id: int, key: str) -> int:
    added = client.post(
        "/api/v1/cart/items", json={"product_id": product_id, "quantity": 1}, headers=headers
    )
    assert added.status_code == 201, added.text
    order = client.post("/api/v1/orders", headers={**headers, "Idempotency-Key": key})
    assert order.status_code == 201, order.text
    order_id: int = order.json()["id"]
    return order_id


# --- Shoppers against each other (IDOR) ---------------------------------------------------


def test_another_shoppers_order_is_404_everywhere(
    client: TestClient, other: TestClient, database: Database
) -> None:
    alice = auth(register_and_login(client, "alice@example.com"))
    product = product_with_stock(database, at_least=3)
    alice_order = place_order(client, alice, product, "alice-key-1")

    bob_token = register_and_login(other, "bob@example.com")
    bob = auth(bob_token)
    for path in (f"/api/v1/orders/{alice_order}", f"/api/v1/orders/{alice_order + 1}"):
        answer = other.get(path, headers=bob)
        assert answer.status_code == 404, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert "alice" not in answer.text
        assert title_of(database, product) not in answer.text
    # The HTML page with Bob's cookie: the same 404, never Alice's order.
    page = other.get(f"/orders/{alice_order}", headers={"accept": "text/html"})
    assert page.status_code == 404
    assert title_of(database, product) not in page.text
    assert other.get("/api/v1/orders", headers=bob).json()["total"] == 0

    # Reusing Alice's idempotency key is Bob's own, fresh request: never Alice's order.
    other.post("/api/v1/cart/items", json={"product_id": product, "quantity": 1}, headers=bob)
    replay = other.post("/api/v1/orders", headers={**bob, "Idempotency-Key": "alice-key-1"})
    assert replay.status_code == 201, replay.text
    assert replay.json()["id"] != alice_order
    assert client.get(f"/api/v1/orders/{alice_order}", headers=alice).status_code == 200


def test_cart_edits_by_product_id_touch_only_the_callers_cart(
    client: TestClient, other: TestClient, database: Database
) -> None:
    alice = auth(register_and_login(client, "alice@example.com"))
    bob = auth(register_and_login(other, "bob@example.com"))
    product = product_with_stock(database, at_least=5)
    other.post("/api/v1/cart/items", json={"product_id": product, "quantity": 2}, headers=bob)
    before = other.get("/api/v1/cart", headers=bob).json()

    path = f"/api/v1/cart/items/{product}"
    assert client.patch(path, json={"quantity": 5}, headers=alice).status_code == 404
    assert client.delete(path, headers=alice).status_code == 404
    # Alice's HTML forms, with her own valid CSRF token, aimed at the product in Bob's cart.
    page = client.get("/cart", headers={"accept": "text/html"})
    token = csrf_of(page.text)
    client.post(f"/cart/items/{product}", data={"csrf_token": token, "quantity": 9})
    client.post(f"/cart/items/{product}/remove", data={"csrf_token": token})

    assert other.get("/api/v1/cart", headers=bob).json() == before
    assert client.get("/api/v1/cart", headers=alice).json()["items"] == []


def test_history_and_assistant_threads_are_per_shopper(
    client: TestClient, other: TestClient, database: Database
) -> None:
    alice = auth(register_and_login(client, "alice@example.com"))
    bob = auth(register_and_login(other, "bob@example.com"))
    product = product_with_stock(database, at_least=1, skip=3)
    assert other.get(f"/api/v1/products/{product}", headers=bob).status_code == 200
    other.get("/api/v1/products", params={"q": "bobs-secret-search"}, headers=bob)

    history = client.get("/api/v1/me/history", headers=alice).json()
    assert all(item.get("product_id") != product for item in history["items"])
    assert "bobs-secret-search" not in str(history)
    # A conversation id is scoped to its shopper: Bob using Alice's id starts his own thread.
    conversation = str(uuid.UUID(int=1))
    said = client.post(
        "/api/v1/assistant/messages",
        json={"message": "help me choose headphones under $200", "conversation_id": conversation},
        headers=alice,
    )
    assert said.status_code == 200, said.text
    reply = other.post(
        "/api/v1/assistant/messages",
        json={"message": "add the budget pick to my cart", "conversation_id": conversation},
        headers=bob,
    )
    assert reply.status_code == 200, reply.text
    assert other.get("/api/v1/cart", headers=bob).json()["items"] == []


# --- Sessions -----------------------------------------------------------------------------


def test_a_cookie_set_before_login_is_not_the_session_after(client: TestClient) -> None:
    register = client.post(
        "/api/v1/accounts", json={"email": "fix@example.com", "password": PASSWORD, "name": "F"}
    )
    assert register.status_code == 201
    client.get("/", headers={"accept": "text/html"})
    planted = client.cookies.get(SESSION_COOKIE)
    assert planted, "an anonymous visitor gets a session cookie"

    # API login: a fresh cookie; the planted one stays anonymous.
    client.post("/api/v1/sessions", json={"email": "fix@example.com", "password": PASSWORD})
    after_api = client.cookies.get(SESSION_COOKIE)
    assert after_api
    assert after_api != planted
    with TestClient(client.app, cookies={SESSION_COOKIE: planted}) as attacker:
        assert attacker.get("/api/v1/me").status_code == 401

    # HTML login from a new anonymous session: the same.
    client.cookies.clear()
    page = client.get("/login", headers={"accept": "text/html"})
    planted = client.cookies.get(SESSION_COOKIE)
    client.post(
        "/login",
        data={"csrf_token": csrf_of(page.text), "email": "fix@example.com", "password": PASSWORD},
    )
    after_html = client.cookies.get(SESSION_COOKIE)
    assert after_html
    assert after_html != planted
    assert client.get("/api/v1/me").status_code == 200
    with TestClient(client.app, cookies={SESSION_COOKIE: planted}) as attacker:
        assert attacker.get("/api/v1/me").status_code == 401


def test_forged_and_logged_out_sessions_are_refused(client: TestClient) -> None:
    token = register_and_login(client, "gone@example.com")
    with TestClient(client.app, cookies={SESSION_COOKIE: token}) as forged:  # unsigned value
        assert forged.get("/api/v1/me").status_code == 401
    assert client.delete("/api/v1/sessions/current", headers=auth(token)).status_code == 204
    assert client.get("/api/v1/me", headers=auth(token)).status_code == 401
    for bad in ("Bearer", "Basic dXNlcjpwYXNz", "Bearer " + "x" * 5000, f"bearer  {token}x"):
        assert client.get("/api/v1/me", headers={"Authorization": bad}).status_code == 401


# --- CSRF ---------------------------------------------------------------------------------


def _html_posts() -> list[str]:
    """Every form post of the app: POST routes outside /api, from every router app.py mounts."""
    from marketplace import app as app_module

    routers = [v for k, v in vars(app_module).items() if k.endswith("_router")]
    paths = []
    for router in routers:
        for route in router.routes:
            is_post = isinstance(route, APIRoute) and "POST" in route.methods
            # The protocol doors are JSON APIs that read no cookie: nothing to forge there.
            protocol = door_of(route.path) in ("ucp", "acp", "mcp")
            if is_post and not route.path.startswith("/api/") and not protocol:
                paths.append(re.sub(r"\{[^}]+\}", "1", route.path))
    return sorted(paths)


def test_every_html_post_needs_this_sessions_csrf_token(
    client: TestClient, other: TestClient
) -> None:
    posts = _html_posts()
    assert {"/login", "/register", "/logout", "/cart/items", "/checkout"} <= set(posts)
    assert len(posts) >= 10
    register_and_login(client, "csrf@example.com")
    # The admin's dashboard login, so its own forms are tested past the cookie check.
    page = client.get("/dashboard", headers={"accept": "text/html"})
    signed_in = client.post(
        "/dashboard/login", data={"csrf_token": csrf_of(page.text), "token": ADMIN_TOKEN}
    )
    assert signed_in.status_code == 200, signed_in.text  # followed to the dashboard itself
    foreign = csrf_of(other.get("/login", headers={"accept": "text/html"}).text)

    accepted = []
    for path in posts:
        for form in ({}, {"csrf_token": ""}, {"csrf_token": foreign}, {"csrf_token": "0" * 64}):
            answer = client.post(
                path,
                data={**form, "email": "csrf@example.com", "password": PASSWORD, "preset": "open"},
                headers={"accept": "text/html", "origin": "https://evil.example"},
                follow_redirects=False,
            )
            if answer.status_code != 403:
                accepted.append((path, form, answer.status_code))
    assert not accepted, accepted
    # Nothing changed behind the refusals: still logged in, the policy is the one it was.
    assert client.get("/api/v1/me").status_code == 200
    policy = client.get("/api/v1/policy", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert policy.json()["name"] != "open"


def test_cookie_api_writes_need_json(client: TestClient, database: Database) -> None:
    """A cross-site form cannot send JSON, so cookie-authenticated API writes need JSON bodies."""
    register_and_login(client, "form@example.com")  # the cookie jar now holds the session
    product = product_with_stock(database)
    sneaky = client.post(
        "/api/v1/cart/items",
        content=f'{{"product_id": {product}, "quantity": 1}}',
        headers={"content-type": "text/plain"},
    )
    assert sneaky.status_code == 422, sneaky.text
    assert client.get("/api/v1/cart").json()["items"] == []


# --- Login throttling ---------------------------------------------------------------------


def test_thirty_participants_behind_one_address_all_get_in(client: TestClient) -> None:
    for i in range(30):
        email = f"participant{i}@example.com"
        created = client.post(
            "/api/v1/accounts", json={"email": email, "password": PASSWORD, "name": f"P{i}"}
        )
        assert created.status_code == 201, created.text
        typo = client.post("/api/v1/sessions", json={"email": email, "password": "wrong-pass"})
        assert typo.status_code == 401, typo.text
        login = client.post("/api/v1/sessions", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, (i, login.text)


def test_password_guessing_on_one_account_is_throttled(
    client: TestClient, other: TestClient, clock: FrozenClock
) -> None:
    register_and_login(client, "victim@example.com")
    for i in range(PER_ACCOUNT.failures):
        wrong = client.post(
            "/api/v1/sessions", json={"email": "victim@example.com", "password": f"guess-{i}"}
        )
        assert wrong.status_code == 401
    # Refused from another client too, and even with the right password: it is the account's limit.
    for c in (client, other):
        refused = c.post(
            "/api/v1/sessions", json={"email": "Victim@Example.com", "password": PASSWORD}
        )
        assert refused.status_code == 429, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        body = refused.json()
        assert body["type"] == "/problems/login-throttled"
        assert "wait" in body["detail"]
        retry = int(refused.headers["retry-after"])
        assert 1 <= retry <= PER_ACCOUNT.window_s
    # Other accounts are unaffected, and the account opens again once the window has passed.
    register_and_login(other, "bystander@example.com")
    clock.advance(seconds=PER_ACCOUNT.window_s + 1)
    ok = client.post("/api/v1/sessions", json={"email": "victim@example.com", "password": PASSWORD})
    assert ok.status_code == 200, ok.text


def test_credential_stuffing_from_one_client_is_throttled(client: TestClient) -> None:
    for i in range(PER_CLIENT.failures):
        wrong = client.post(
            "/api/v1/sessions", json={"email": f"nobody{i}@example.com", "password": "hunter22"}
        )
        assert wrong.status_code == 401, (i, wrong.text)
    refused = client.post(
        "/api/v1/sessions", json={"email": "someone@example.com", "password": "hunter22"}
    )
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) <= PER_CLIENT.window_s
    # The HTML form shares the limit and says the same on a page.
    page = client.get("/login", headers={"accept": "text/html"})
    html = client.post(
        "/login",
        data={"csrf_token": csrf_of(page.text), "email": "a@example.com", "password": "x"},
        headers={"accept": "text/html"},
    )
    assert html.status_code == 429
    assert "Retry-After" in html.text + str(html.headers)


# --- Admin routes -------------------------------------------------------------------------

ADMIN_ROUTES = [
    ("GET", "/api/v1/policy"),
    ("PUT", "/api/v1/policy"),
    ("GET", "/api/v1/decisions"),
    ("GET", "/api/v1/partners"),
    ("POST", "/api/v1/partners"),
    ("DELETE", "/api/v1/partners/crawler-co"),
    ("GET", "/api/v1/admin/stats"),
    ("POST", "/api/v1/admin/workshop"),
    ("POST", "/api/v1/admin/workshop/teams/team-01/reinstate"),
]


def test_admin_routes_need_the_admin_token(client: TestClient) -> None:
    shopper = register_and_login(client, "notadmin@example.com")
    attempts: list[dict[str, str]] = [
        {},
        {"Authorization": f"Bearer {shopper}"},
        {"Authorization": f"Bearer {ADMIN_TOKEN[:-1]}"},
        {"Authorization": f"Bearer {ADMIN_TOKEN.upper()}"},
        {"Authorization": f"Bearer {ADMIN_TOKEN}x"},
        {"Authorization": f"Basic {ADMIN_TOKEN}"},
        {"X-Admin-Token": ADMIN_TOKEN},
    ]
    let_in = []
    for method, path in ADMIN_ROUTES:
        for headers in attempts:
            answer = client.request(method, path, headers=headers, json={})
            if answer.status_code not in (401, 403):
                let_in.append((method, path, headers, answer.status_code))
            else:
                assert answer.headers["content-type"].startswith("application/problem+json")
    assert not let_in, let_in
    assert client.get("/api/v1/policy", headers=auth(ADMIN_TOKEN)).status_code == 200


def test_the_admin_token_is_compared_in_constant_time(client: TestClient) -> None:
    import marketplace.core.admin as admin

    with mock.patch.object(
        admin, "constant_time_equals", wraps=admin.constant_time_equals
    ) as compare:
        assert client.get("/api/v1/policy", headers=auth("guess")).status_code == 403
        assert client.get("/api/v1/policy", headers=auth(ADMIN_TOKEN)).status_code == 200
    assert compare.call_count == 2


# --- Secrets in logs ----------------------------------------------------------------------


def test_passwords_tokens_and_keys_never_reach_the_logs(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    password = "Sup3r-secret-passphrase"
    key = Ed25519PrivateKey.generate()
    private_jwk = _signing.jwk(key, private=True)
    admin = auth(ADMIN_TOKEN)
    with caplog.at_level(logging.DEBUG):
        client.post(
            "/api/v1/accounts",
            json={"email": "logs@example.com", "password": password, "name": "Logs"},
        )
        client.post("/api/v1/accounts", json={"email": "bad", "password": password, "name": ""})
        client.post("/api/v1/sessions", json={"email": "logs@example.com", "password": password})
        wrong = {"email": "logs@example.com", "password": "x" + password}
        client.post("/api/v1/sessions", json=wrong)
        token = client.post(
            "/api/v1/sessions", json={"email": "logs@example.com", "password": password}
        ).json()["access_token"]
        client.get("/api/v1/me", headers=auth(token))
        page = client.get("/login", headers={"accept": "text/html"})
        client.post(
            "/login",
            data={
                "csrf_token": csrf_of(page.text),
                "email": "logs@example.com",
                "password": password,
            },
        )
        # A partner key sent with its private part (refused), then the public key (accepted).
        client.post("/api/v1/partners", json={"name": "leaky", "jwk": private_jwk}, headers=admin)
        public = {k: v for k, v in private_jwk.items() if k != "d"}
        client.post("/api/v1/partners", json={"name": "tidy", "jwk": public}, headers=admin)
        client.get("/api/v1/policy", headers=admin)
        client.get("/api/v1/policy", headers=auth("wrong-admin-guess"))
        decisions = client.get("/api/v1/decisions", params={"page_size": 100}, headers=admin).text
    secrets_sent = [password, token, ADMIN_TOKEN, "wrong-admin-guess", private_jwk["d"]]
    logged = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    leaked: list[Any] = [s for s in secrets_sent if s in logged]
    assert not leaked, leaked
    # The decision log is readable by the admin: it must not hold them either.
    assert not [s for s in secrets_sent if s in decisions and s != ADMIN_TOKEN]
