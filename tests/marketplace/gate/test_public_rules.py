"""The public rules: `GET /api/v1/policy/public` for every visitor, without admin-only details."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from marketplace.gate.policy.compiled import CompiledPolicy
from marketplace.gate.policy.model import PRESET_NAMES, VISITOR_CLASSES, load_policy
from tests.conftest import ADMIN_TOKEN
from tests.marketplace.gate import _signing

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
GPTBOT = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.1; +https://openai.com/gptbot)"
CLAUDE_USER = "Mozilla/5.0 (compatible; Claude-User/1.0; +Claude-User@anthropic.com)"
PUBLIC = "/api/v1/policy/public"


@pytest.fixture
def policy() -> str:
    return "closed"


@pytest.mark.parametrize("preset", PRESET_NAMES)
@pytest.mark.parametrize("path", [PUBLIC, "/problems", "/problems/policy-block", "/robots.txt"])
def test_every_preset_lets_every_visitor_class_read_the_rules(preset: str, path: str) -> None:
    compiled = CompiledPolicy(load_policy(preset))
    route_class = compiled.routes.match(path)
    assert route_class == "robots", (preset, path)
    for visitor in VISITOR_CLASSES:
        rule = compiled.rule_for(visitor, route_class, "GET")
        assert rule.action == "allow", (preset, path, visitor, rule.id)


@pytest.mark.parametrize(
    ("user_agent", "visitor_class"),
    [
        (None, "automation"),
        ("curl/8.5.0", "automation"),
        (GPTBOT, "declared-crawler"),
        (CLAUDE_USER, "declared-agent"),
    ],
)
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_anyone_reads_the_public_rules_under_closed(
    client: TestClient, user_agent: str | None, visitor_class: str
) -> None:
    headers = {"user-agent": user_agent} if user_agent else {}
    if user_agent is None:
        client.headers.pop("user-agent")
    response = client.get(PUBLIC, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["x-visitor-class"] == visitor_class
    assert response.headers["x-policy-decision"] == "allow"
    assert response.headers["x-policy-rule"] == "rules-are-public"
    body = response.json()
    assert body["name"] == "closed"
    assert body["mode"] == "enforce"
    rules = {rule["id"]: rule for rule in body["rules"]}
    assert rules["ai-crawlers-out"]["action"] == "block"
    assert rules["ai-crawlers-out"]["reason"].startswith("AI crawlers may not collect")
    assert body["default"]["id"] == "default-block"
    assert body["table"]["declared-crawler"]["product"] == "block"
    assert body["links"]["robots"] == "/robots.txt"
    # The admin view stays the admin's (refused by the gate or by the token check).
    assert client.get("/api/v1/policy", headers=headers).status_code in (401, 403)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_public_rules_carry_limits_and_prices_but_no_partner_keys(client: TestClient) -> None:
    key = _signing.jwk(Ed25519PrivateKey.generate())
    yaml_text = (
        "extends: pay-per-crawl\n"
        "name: priced-with-partners\n"
        "rate_limits:\n  automation: {requests: 30, per_seconds: 10}\n"
        "bot_score: {automated_at_most: 3, likely_automated_below: 41}\n"
        "partners:\n"
        f"  - name: secret-partner-co\n    jwk: {{kty: OKP, crv: Ed25519, x: '{key['x']}'}}\n"
    )
    switched = client.put("/api/v1/policy", json={"yaml": yaml_text}, headers=ADMIN)
    assert switched.status_code == 200, switched.text
    response = client.get(PUBLIC, headers={"user-agent": GPTBOT})
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "priced-with-partners"
    assert body["rate_limits"] == {"automation": {"requests": 30, "per_seconds": 10}}
    assert body["crawl_price"] == {"amount": "0.01", "currency": "USD", "header": "USD 0.01"}
    assert {r["id"]: r["action"] for r in body["rules"]}["crawl-for-a-price"] == "pay"
    assert body["signatures"]["max_clock_skew_s"] == 60
    assert set(body) == {
        "name",
        "description",
        "mode",
        "version",
        "rules",
        "default",
        "rate_limits",
        "crawl_price",
        "routes",
        "table",
        "agents",
        "signatures",
        "escalation",
        "links",
    }
    text = json.dumps(body)
    for secret in ("secret-partner-co", key["x"], "likely_automated", "extends"):
        assert secret not in text, secret
    # The admin view has both.
    admin_view = client.get("/api/v1/policy", headers=ADMIN).json()
    assert "secret-partner-co" in admin_view["yaml"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_robots_txt_links_to_the_public_rules(client: TestClient) -> None:
    robots = client.get("/robots.txt", headers={"user-agent": GPTBOT}).text
    assert "# The rules, rate limits and prices, for every visitor: /api/v1/policy/public" in robots
    # Under closed, GPTBot may fetch nothing but the published rules.
    assert "Allow: /api/v1/policy/public$" in robots
