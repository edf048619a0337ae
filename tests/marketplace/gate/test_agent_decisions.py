"""An agent's own decision log through HTTP: `GET /api/v1/agents/me/decisions`."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from marketplace.gate.policy.model import PRESET_NAMES
from tests.conftest import ADMIN_TOKEN, TEST_NOW
from tests.marketplace.gate import _signing

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
AGENT_UA = "AcmeShopper/1.0 (+https://acme.example/agent)"
NOW = int(TEST_NOW.timestamp())
MINE = "/api/v1/agents/me/decisions"


def register(client: TestClient, name: str) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    answer = client.post(
        "/api/v1/partners", json={"name": name, "jwk": _signing.jwk(key)}, headers=ADMIN
    )
    assert answer.status_code == 201, answer.text
    return key


def signed(key: Ed25519PrivateKey, path: str, query: str = "", **kwargs: Any) -> dict[str, str]:
    args: dict[str, Any] = {
        "method": "GET",
        "authority": "testserver",
        "path": path,
        "created": NOW,
        "expires": NOW + 60,
        "nonce": secrets.token_urlsafe(64),
    }
    args.update(kwargs)
    return {"user-agent": AGENT_UA, **_signing.sign(key, **args)}


@pytest.mark.parametrize("policy", sorted(PRESET_NAMES))
def test_a_signed_agent_reads_its_own_decisions_under_every_preset(client: TestClient) -> None:
    acme, other = register(client, "acme"), register(client, "other")
    # A request whose clock is ten minutes behind: acme's own failure, listed for acme.
    stale = signed(acme, "/api/v1/categories", created=NOW - 600, expires=NOW - 540)
    client.get("/api/v1/categories", headers=stale)
    client.get("/api/v1/categories", headers=signed(other, "/api/v1/categories"))  # not acme's

    first = client.get(MINE, headers=signed(acme, MINE))
    assert first.status_code == 200, first.text
    assert first.headers["x-visitor-class"] == "verified-agent"
    assert first.json()["total"] == 1
    [failed] = first.json()["items"]
    assert failed["path"] == "/api/v1/categories"
    assert failed["signature_status"] == "expired"
    assert failed["signature_reason"]
    assert failed["method"] == "GET"
    assert {"at", "rule", "reason", "action", "status"} <= set(failed)

    second = client.get(MINE, params={"page_size": 1}, headers=signed(acme, MINE, "page_size=1"))
    body = second.json()
    assert (body["total"], body["page"], body["page_size"]) == (2, 1, 1)
    [newest] = body["items"]  # newest first: the previous look at the log
    assert (newest["path"], newest["signature_status"]) == (MINE, "verified")
    assert (newest["action"], newest["status"]) == ("allow", 200)
    assert newest["reason"]  # the rule's reason under the active policy


@pytest.mark.parametrize("policy", ["open"])
def test_only_a_request_signed_with_a_registered_key_is_answered(client: TestClient) -> None:
    acme = register(client, "acme")
    stranger = Ed25519PrivateKey.generate()
    for headers in ({"user-agent": AGENT_UA}, signed(stranger, MINE)):
        refused = client.get(MINE, headers=headers)
        assert refused.status_code == 401, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        problem = refused.json()
        assert problem["type"].endswith("/problems/signature-required")
        assert "registered key" in problem["detail"]
    too_many = client.get(MINE, params={"page_size": 101}, headers=signed(acme, MINE))
    assert too_many.status_code == 422, too_many.text  # at most 100 a page
