"""The gate through the real app: headers, refusals, observe mode, log, metrics, switching."""

from __future__ import annotations

import secrets

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from marketplace.core.db import Database
from marketplace.gate.models import GateDecision
from tests.conftest import ADMIN_TOKEN, CHROME_UA, TEST_NOW
from tests.marketplace.gate import _signing

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
GPTBOT = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.1; +https://openai.com/gptbot)"
GATE_HEADERS = ("x-policy-decision", "x-policy-rule", "x-visitor-class")


@pytest.fixture
def policy() -> str:
    return "closed"


def assert_gate_headers(response: object, decision: str, visitor_class: str) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    for name in GATE_HEADERS:
        assert headers.get(name), f"{name} missing on {response}"
    assert headers["x-policy-decision"] == decision
    assert headers["x-visitor-class"] == visitor_class


def test_headers_on_allowed_pages_404s_assets_and_robots(client: TestClient) -> None:
    ok = client.get("/api/v1/products")
    assert ok.status_code == 200
    assert_gate_headers(ok, "allow", "human")
    assert ok.headers["x-policy-rule"] == "shoppers-everywhere"
    missing = client.get("/there/is/nothing/here")
    assert missing.status_code == 404
    assert_gate_headers(missing, "allow", "human")
    asset = client.get("/static/store.css")
    assert asset.status_code == 200
    assert_gate_headers(asset, "allow", "human")
    robots = client.get("/robots.txt", headers={"user-agent": GPTBOT})
    assert robots.status_code == 200
    assert_gate_headers(robots, "allow", "declared-crawler")
    assert "User-agent: GPTBot" in robots.text


def test_refusal_is_problem_json_for_api_clients_and_html_for_browsers(client: TestClient) -> None:
    refused = client.get("/api/v1/products/1", headers={"user-agent": GPTBOT})
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert_gate_headers(refused, "block", "declared-crawler")
    body = refused.json()
    assert body["rule"] == "ai-crawlers-out" == refused.headers["x-policy-rule"]
    assert body["visitor_class"] == "declared-crawler"
    assert body["decision"] == "block"
    assert body["status"] == 403
    assert body["type"] == "/problems/policy-block"
    assert "robots.txt" in body["detail"]
    page = client.get("/products/1", headers={"user-agent": GPTBOT, "accept": "text/html"})
    assert page.status_code == 403
    assert page.headers["content-type"].startswith("text/html")
    assert "AI crawlers may not collect" in page.text
    assert_gate_headers(page, "block", "declared-crawler")


def test_refusals_say_what_would_let_the_visitor_in(client: TestClient) -> None:
    tool = client.post("/api/v1/cart/items", json={}, headers={"user-agent": "curl/8.5.0"})
    assert tool.status_code == 403
    assert "browser" in tool.json()["detail"] or "human" in tool.json()["detail"]
    # A browser user agent with a registered key's broken signature is a tool posing as a
    # browser: challenged. (Unverifiable signatures: test_webbotauth_http.py.)
    key = Ed25519PrivateKey.generate()
    registered = client.post(
        "/api/v1/partners", json={"name": "poser", "jwk": _signing.jwk(key)}, headers=ADMIN
    )
    assert registered.status_code == 201, registered.text
    created = int(TEST_NOW.timestamp()) - 600
    stale = _signing.sign(
        key,
        method="POST",
        authority="testserver",
        path="/api/v1/cart/items",
        created=created,
        expires=created + 60,
    )
    posing = client.post("/api/v1/cart/items", json={}, headers=stale)
    assert posing.status_code == 403
    assert_gate_headers(posing, "challenge", "suspected-agent")
    assert "ordinary browser with JavaScript" in posing.json()["detail"]


def test_routes_read_the_visitor_class(app: FastAPI, client: TestClient) -> None:
    @app.get("/_test/whoami")
    def whoami(request: Request) -> dict[str, object]:
        return {
            "visitor_class": request.state.visitor_class,
            "rule": request.state.policy_rule,
            "decision": request.state.policy_decision,
        }

    seen = client.get("/_test/whoami", headers={"user-agent": "python-httpx/0.27"}).json()
    assert seen == {
        "visitor_class": "automation",
        "rule": "outside-agents-read-catalog",
        "decision": "allow",
    }


def test_method_override_headers_are_ignored(client: TestClient) -> None:
    policy = (
        "extends: closed\nname: reads-only\nrules:\n"
        "  - {id: tools-read-orders, visitors: [automation], routes: [checkout], methods: [GET],"
        " action: allow, reason: Tools may list orders.}\n"
        "  - {id: nothing-else, visitors: ['*'], routes: ['*'], action: block, reason: No.}\n"
    )
    assert client.put("/api/v1/policy", json={"yaml": policy}, headers=ADMIN).status_code == 200
    tool = {"user-agent": "curl/8.5.0"}
    for header in ("X-HTTP-Method-Override", "X-Method-Override", "X-HTTP-Method"):
        sneaky = client.post("/api/v1/orders", headers={**tool, header: "GET"})
        assert sneaky.status_code == 403, header
        assert sneaky.headers["x-policy-rule"] == "nothing-else"
    assert client.post("/api/v1/orders?_method=GET", headers=tool).status_code == 403
    head = client.head("/api/v1/orders", headers=tool)
    assert head.headers["x-policy-rule"] == "tools-read-orders"


class TestObserveMode:
    @pytest.fixture
    def policy(self) -> str:
        return "observe"

    def test_nothing_refused_but_the_closed_action_is_logged(
        self, app: FastAPI, client: TestClient, database: Database
    ) -> None:
        response = client.get("/api/v1/products/1", headers={"user-agent": GPTBOT})
        assert response.status_code == 200
        assert response.headers["x-policy-decision"] == "allow"
        assert response.headers["x-policy-observed-action"] == "block"
        assert response.headers["x-policy-rule"] == "ai-crawlers-out"
        log = client.get(
            "/api/v1/decisions", params={"visitor_class": "declared-crawler"}, headers=ADMIN
        ).json()
        assert log["total"] == 1
        row = log["items"][0]
        assert row["action"] == "block"
        assert row["enforced"] is False
        assert row["status"] == 200
        assert row["signals"]["declared"]["name"] == "GPTBot"
        assert row["signals"]["claim"] == "unverified"


def test_decision_log_filters_and_pagination(client: TestClient) -> None:
    client.get("/api/v1/products")
    for _ in range(3):
        client.get("/api/v1/products/1", headers={"user-agent": GPTBOT})
    client.get("/api/v1/cart", headers={"user-agent": "curl/8.5.0"})
    assert client.get("/api/v1/decisions").status_code == 401
    assert (
        client.get("/api/v1/decisions", headers={"Authorization": "Bearer nope"}).status_code == 403
    )
    blocked = client.get(
        "/api/v1/decisions", params={"action": "block", "page_size": 2}, headers=ADMIN
    ).json()
    assert blocked["total"] == 4
    assert len(blocked["items"]) == 2
    assert blocked["page_size"] == 2
    page2 = client.get(
        "/api/v1/decisions", params={"action": "block", "page_size": 2, "page": 2}, headers=ADMIN
    ).json()
    assert {i["id"] for i in page2["items"]}.isdisjoint({i["id"] for i in blocked["items"]})
    carts = client.get(
        "/api/v1/decisions",
        params={"route_class": "cart", "rule": "outside-agents-no-transactions"},
        headers=ADMIN,
    ).json()
    assert carts["total"] == 1
    item = carts["items"][0]
    assert item["visitor_class"] == "automation"
    assert item["user_agent"] == "curl/8.5.0"
    assert item["latency_us"] >= 0
    since = client.get(
        "/api/v1/decisions", params={"since": "2999-01-01T00:00:00Z"}, headers=ADMIN
    ).json()
    assert since["total"] == 0
    assert (
        client.get(
            "/api/v1/decisions", params={"since": TEST_NOW.isoformat()}, headers=ADMIN
        ).json()["total"]
        >= 5
    )


def test_metrics(client: TestClient) -> None:
    client.get("/api/v1/products/1", headers={"user-agent": GPTBOT})
    client.get("/api/v1/products")
    text = client.get("/metrics").text
    assert (
        'gate_decisions_total{action="block",enforced="true",route_class="product",'
        'visitor_class="declared-crawler"} 1.0' in text
    )
    assert "gate_decision_latency_seconds_bucket" in text
    assert "gate_decision_latency_seconds_count" in text


def test_log_is_flushed_on_clean_shutdown(app: FastAPI, database: Database) -> None:
    with TestClient(app, headers={"user-agent": CHROME_UA}) as client:
        for _ in range(25):
            client.get("/healthz")
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(GateDecision)) == 25


def test_switching_policy_at_runtime(client: TestClient) -> None:
    assert client.get("/api/v1/policy").status_code == 401
    before = client.get("/api/v1/policy", headers=ADMIN).json()
    assert before["name"] == "closed"
    assert before["table"]["declared-crawler"]["product"] == "block"
    assert client.get("/api/v1/products/1", headers={"user-agent": GPTBOT}).status_code == 403
    switched = client.put("/api/v1/policy", json={"preset": "open"}, headers=ADMIN)
    assert switched.status_code == 200
    assert switched.json()["name"] == "open"
    assert switched.json()["version"] > before["version"]
    assert client.get("/api/v1/products/1", headers={"user-agent": GPTBOT}).status_code == 200
    assert "Crawl-delay" in client.get("/robots.txt").text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"yaml": "name: broken\nrules:\n  - id: x\n    visitors: [robots]\n"},
            "rules.0.visitors.0",
        ),
        ({"yaml": "name: broken\nmood: enforce\n"}, "mood"),
        ({"yaml": "not: [valid"}, "(syntax)"),
        ({"preset": "wide-open"}, "preset"),
        ({"preset": "open", "yaml": "name: x"}, "body"),
    ],
)
def test_invalid_policy_is_refused_and_the_old_one_stays(
    client: TestClient, body: dict[str, str], field: str
) -> None:
    refused = client.put("/api/v1/policy", json=body, headers=ADMIN)
    assert refused.status_code == 422
    problem = refused.json()
    assert problem["type"] in ("/problems/invalid-policy", "/problems/invalid-request")
    assert (
        any(field in (e.get("field") or "") for e in problem["errors"])
        or field in problem["detail"]
    )
    assert client.get("/api/v1/policy", headers=ADMIN).json()["name"] == "closed"
    assert client.get("/api/v1/products/1", headers={"user-agent": GPTBOT}).status_code == 403


def test_invalid_policy_names_the_line(client: TestClient) -> None:
    refused = client.put(
        "/api/v1/policy",
        json={"yaml": "name: x\nrules: []\nrate_limits:\n  robots: {}\n"},
        headers=ADMIN,
    )
    assert refused.status_code == 422
    assert "line 4" in refused.json()["detail"]
    assert "rate_limits" in refused.json()["detail"]


def _partner_policy(key: Ed25519PrivateKey, extra: str = "") -> str:
    x = _signing.jwk(key)["x"]
    return (
        "extends: pay-per-crawl\nname: pay-test\n"
        f"partners:\n  - name: crawler-co\n    jwk: {{kty: OKP, crv: Ed25519, x: '{x}'}}\n{extra}"
    )


def _signed(key: Ed25519PrivateKey, path: str, extra: dict[str, str]) -> dict[str, str]:
    created = int(TEST_NOW.timestamp())
    headers = _signing.sign(
        key,
        method="GET",
        authority="testserver",
        path=path,
        created=created,
        expires=created + 60,
        nonce=secrets.token_hex(8),
        # The price accepted must be covered by the signature to count.
        components=("@authority", "@method", "@path", *(k.lower() for k in extra)),
        fields=extra,
    )
    return {"user-agent": GPTBOT, **headers, **extra}


def test_pay_per_crawl(client: TestClient) -> None:
    key = Ed25519PrivateKey.generate()
    assert (
        client.put("/api/v1/policy", json={"yaml": _partner_policy(key)}, headers=ADMIN).status_code
        == 200
    )
    path = "/api/v1/products/1"
    quoted = client.get(path, headers={"user-agent": GPTBOT})
    assert quoted.status_code == 402
    assert quoted.headers["crawler-price"] == "USD 0.01"
    assert_gate_headers(quoted, "pay", "declared-crawler")
    assert "crawler-exact-price" in quoted.json()["detail"]
    # Accepting the price without a signature does not pay.
    unsigned = client.get(path, headers={"user-agent": GPTBOT, "crawler-exact-price": "USD 0.01"})
    assert unsigned.status_code == 402
    # Signed, but no price accepted: still quoted.
    signed = client.get(path, headers=_signed(key, path, {}))
    assert signed.status_code == 402
    assert signed.headers["x-visitor-class"] == "verified-agent"
    too_low = client.get(path, headers=_signed(key, path, {"crawler-max-price": "USD 0.005"}))
    assert too_low.status_code == 402
    paid = client.get(path, headers=_signed(key, path, {"crawler-exact-price": "USD 0.01"}))
    assert paid.status_code == 200, paid.text
    assert paid.headers["crawler-charged"] == "USD 0.01"
    assert_gate_headers(paid, "allow", "verified-agent")
    assert paid.headers["x-policy-rule"] == "crawl-for-a-price"
    most = client.get(path, headers=_signed(key, path, {"crawler-max-price": "USD 1"}))
    assert most.status_code == 200
    log = client.get("/api/v1/decisions", params={"agent": "crawler-co"}, headers=ADMIN).json()
    assert any(i["signals"].get("charged") == "USD 0.01" for i in log["items"])


def test_throttle_over_the_rate_limit(client: TestClient) -> None:
    policy = (
        "extends: open\nname: tight\n"
        "rate_limits:\n  declared-crawler: {requests: 3, per_seconds: 60}\n"
    )
    assert client.put("/api/v1/policy", json={"yaml": policy}, headers=ADMIN).status_code == 200
    answers = [client.get("/api/v1/products", headers={"user-agent": GPTBOT}) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    throttled = answers[-1]
    assert throttled.headers["retry-after"] == "60"
    assert_gate_headers(throttled, "throttle", "declared-crawler")
    assert throttled.headers["x-policy-rule"] == "rate-limit-declared-crawler"


def test_a_switch_reaches_every_worker_within_a_second(
    app: FastAPI, settings: object, database: Database, clock: object
) -> None:
    """Two app instances on one database stand in for two worker processes."""
    import time

    from marketplace.app import create_app

    other = create_app(settings, database=database, clock=clock)  # type: ignore[arg-type]
    gpt = {"user-agent": GPTBOT}
    with TestClient(app) as first, TestClient(other) as second:
        assert second.get("/api/v1/products/1", headers=gpt).status_code == 403
        switched = first.put("/api/v1/policy", json={"preset": "open"}, headers=ADMIN)
        assert switched.status_code == 200
        started = time.monotonic()
        while second.get("/api/v1/products/1", headers=gpt).status_code != 200:
            assert time.monotonic() - started < 1.0, "the second worker did not switch in 1 s"
            time.sleep(0.05)
        assert second.get("/api/v1/policy", headers=ADMIN).json()["name"] == "open"


def test_decisions_by_account_and_team(client: TestClient, database: Database) -> None:
    from sqlalchemy import update

    from marketplace.accounts.models import Account
    from tests.conftest import register_and_login

    token = register_and_login(client, "team-member@example.com")
    client.cookies.clear()
    account_id = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()["id"]
    with database.session() as session:
        session.execute(update(Account).where(Account.id == account_id).values(team="red"))
    client.get("/api/v1/cart", headers={"Authorization": f"Bearer {token}"})
    mine = client.get("/api/v1/decisions", params={"account_id": account_id}, headers=ADMIN).json()
    assert mine["total"] >= 2
    assert {i["account_id"] for i in mine["items"]} == {account_id}
    team = client.get("/api/v1/decisions", params={"team": "red"}, headers=ADMIN).json()
    assert team["total"] == mine["total"]
    assert (
        client.get("/api/v1/decisions", params={"team": "blue"}, headers=ADMIN).json()["total"] == 0
    )


def test_a_restart_applies_the_configured_policy(
    app: FastAPI, settings: object, database: Database, clock: object
) -> None:
    from marketplace.app import create_app

    gpt = {"user-agent": GPTBOT}
    with TestClient(app) as first:
        assert (
            first.put("/api/v1/policy", json={"preset": "open"}, headers=ADMIN).status_code == 200
        )
        assert first.get("/api/v1/products/1", headers=gpt).status_code == 200
    restarted = create_app(settings, database=database, clock=clock)  # type: ignore[arg-type]
    with TestClient(restarted) as again:
        assert again.get("/api/v1/policy", headers=ADMIN).json()["name"] == "closed"
        assert again.get("/api/v1/products/1", headers=gpt).status_code == 403
