"""One identity per request: what the gate, the app and the decision log take a request to be.

Each test is an attack from issue 17 that used to work:
- a cookie sent once with a garbage bearer token was attributed to nobody from then on;
- `nile_session=garbage; nile_session=<valid>` was one session to the gate, another to the app;
- each signed cookie had several accepted base64 spellings, each a fresh session to the gate;
- uvicorn believed X-Forwarded-For from loopback, so a throttled crawler got 200 by adding one;
- one forged beacon post made a script "human" enough to order through the API.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from marketplace.accounts.models import Account
from marketplace.core.appstate import state_of
from marketplace.core.db import Database
from marketplace.core.security import SESSION_COOKIE
from marketplace.gate.models import GateDecision
from sandbox.liveserver import LiveServer
from tests.conftest import CHROME_UA, register_and_login

GPTBOT = "Mozilla/5.0 (compatible; GPTBot/1.1; +https://openai.com/gptbot)"
BASE64URL = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"


def logged_rows(app: FastAPI, database: Database) -> list[GateDecision]:
    log = state_of(app).gate.decision_log
    assert log is not None
    log.flush()
    with database.session() as session:
        return list(session.scalars(select(GateDecision).order_by(GateDecision.id)))


def account_id(database: Database, email: str) -> int:
    with database.session() as session:
        found = session.scalar(select(Account.id).where(Account.email == email))
    assert found is not None
    return found


# --- Attribution --------------------------------------------------------------------------------


def test_a_garbage_bearer_token_does_not_detach_a_cookie_from_its_account(
    client: TestClient, app: FastAPI, database: Database
) -> None:
    register_and_login(client, "attributed@example.com")
    owner = account_id(database, "attributed@example.com")
    # The first request with this cookie that the log resolves itself also carries a bad token.
    refused = client.get("/api/v1/categories", headers={"authorization": "Bearer garbage"})
    assert refused.status_code == 200  # the catalog does not ask who is calling
    assert (
        client.get("/api/v1/cart", headers={"authorization": "Bearer garbage"}).status_code == 401
    )
    assert client.get("/api/v1/categories").status_code == 200
    assert client.get("/api/v1/products/1").status_code == 200
    rows = logged_rows(app, database)
    by_path = [(r.path, r.account_id) for r in rows[-4:]]
    assert by_path == [
        ("/api/v1/categories", None),  # no credential was verified: the token is unknown
        ("/api/v1/cart", None),
        ("/api/v1/categories", owner),
        ("/api/v1/products/1", owner),
    ]


# --- Duplicate cookies --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "nile_session=garbage; nile_session={valid}",
        "nile_session={valid}; nile_session=garbage",
        'nile_session={valid}; other=1; nile_session="{valid}"',
    ],
)
def test_two_session_cookies_in_one_request_are_refused(client: TestClient, header: str) -> None:
    register_and_login(client, "twice@example.com")
    valid = client.cookies.get(SESSION_COOKIE)
    client.cookies.clear()
    own = client.get("/api/v1/cart", headers={"cookie": f"nile_session={valid}"})
    assert own.status_code == 200
    answer = client.get("/api/v1/cart", headers={"cookie": header.format(valid=valid)})
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["type"] == "/problems/duplicate-cookie"
    assert answer.headers["x-policy-decision"] == "allow"  # the gate answered too


def test_two_cookie_headers_with_a_session_each_are_refused(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url, headers={"user-agent": CHROME_UA}) as client:
        account = {"email": "twoheaders@example.com", "password": "correct-horse-9"}
        assert client.post("/api/v1/accounts", json={**account, "name": "T"}).status_code == 201
        assert client.post("/api/v1/sessions", json=account).status_code == 200
        valid = client.cookies.get(SESSION_COOKIE)
        client.cookies.clear()
        request = client.build_request("GET", "/api/v1/cart")
        # Two Cookie header lines, as a sloppy client may send them.
        request.headers = httpx.Headers(
            [
                *request.headers.multi_items(),
                ("cookie", "nile_session=x"),
                ("cookie", f"nile_session={valid}"),
            ]
        )
        assert client.send(request).status_code == 400


# --- One spelling per cookie --------------------------------------------------------------------


def spellings(cookie: str) -> list[str]:
    """Other spellings of a signed cookie that a lenient base64 decoder reads as the same."""
    head, _, signature = cookie.rpartition(".")
    last = BASE64URL.index(signature[-1])
    # 20 signature bytes fill 26 characters and 4 bits of the 27th: the low 2 bits are spare.
    same_bits = [BASE64URL[(last & ~0b11) | spare] for spare in range(4)]
    variants = [f"{head}.{signature[:-1]}{c}" for c in same_bits if c != signature[-1]]
    variants.append(f"{head}.{signature}=")
    variants.append(f"{head}.{signature[:5]}!{signature[5:]}")
    return variants


def test_a_session_cookie_has_one_accepted_spelling(client: TestClient) -> None:
    register_and_login(client, "spelling@example.com")
    cookie = client.cookies.get(SESSION_COOKIE)
    assert cookie is not None
    client.cookies.clear()
    assert (
        client.get("/api/v1/cart", headers={"cookie": f"nile_session={cookie}"}).status_code == 200
    )
    for variant in spellings(cookie):
        answer = client.get("/api/v1/cart", headers={"cookie": f"nile_session={variant}"})
        assert answer.status_code == 401, variant  # a stranger's cookie: log in first
        client.cookies.clear()


# --- Forwarded headers --------------------------------------------------------------------------


@pytest.fixture
def policy() -> str:
    return "open"  # declared crawlers are let in, 60 requests a minute


@pytest.fixture(params=["sqlite"])
def db_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    return sqlite_url


def test_a_throttled_crawler_gains_nothing_from_x_forwarded_for(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url, headers={"user-agent": GPTBOT}) as crawler:
        for _ in range(61):
            last = crawler.get("/api/v1/categories")
        assert last.status_code == 429
        for forwarded in ("203.0.113.9", "10.0.0.1, 198.51.100.7"):
            answer = crawler.get("/api/v1/categories", headers={"x-forwarded-for": forwarded})
            assert answer.status_code == 429, forwarded


def test_forwarded_headers_are_believed_from_a_trusted_proxy(
    app: FastAPI, database: Database
) -> None:
    with (
        LiveServer(app, trusted_proxies=["127.0.0.1"]) as proxied,
        httpx.Client(base_url=proxied.url, headers={"user-agent": GPTBOT}) as crawler,
    ):
        answer = crawler.get("/api/v1/categories", headers={"x-forwarded-for": "203.0.113.9"})
        assert answer.status_code == 200
    assert logged_rows(app, database)[-1].client_ip == "203.0.113.9"


# --- The beacon ---------------------------------------------------------------------------------


@pytest.fixture
def closed_client(app: FastAPI) -> Iterator[TestClient]:
    state_of(app).gate.switch(preset="closed")
    with TestClient(app, headers={"user-agent": CHROME_UA}) as client:
        yield client


def test_one_forged_beacon_does_not_make_a_script_human(closed_client: TestClient) -> None:
    client = closed_client
    register_and_login(client, "script@example.com")
    forged = {"pointer": 7, "keys": 3, "first_interaction_ms": 850}
    assert client.post("/api/v1/beacon", content=json.dumps(forged)).status_code == 204
    added = client.post("/api/v1/cart/items", json={"product_id": 1, "quantity": 1})
    assert added.status_code == 403, added.text
    assert added.headers["x-policy-decision"] == "challenge"
    assert added.headers["x-visitor-class"] == "suspected-agent"
