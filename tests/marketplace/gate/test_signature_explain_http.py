"""The signature debugger through HTTP, on both databases: `POST /api/v1/signature/explain`."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from marketplace.gate.policy.model import PRESET_NAMES
from tests.conftest import ADMIN_TOKEN, TEST_NOW
from tests.marketplace.gate import _signing

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
AGENT_UA = "AcmeShopper/1.0 (+https://acme.example/agent)"
GPTBOT = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.1; +https://openai.com/gptbot)"
NOW = int(TEST_NOW.timestamp())
EXPLAIN = "/api/v1/signature/explain"
CATALOG = "/api/v1/products"


@pytest.fixture
def policy() -> str:
    return "closed"


@pytest.fixture
def partner(client: TestClient) -> Ed25519PrivateKey:
    key: Ed25519PrivateKey = _signing.register_partner(client, ADMIN)
    return key


def signed(
    key: Ed25519PrivateKey, path: str = CATALOG, method: str = "GET", **kwargs: Any
) -> dict[str, str]:
    headers = _signing.sign_now(key, path=path, now=NOW, method=method, **kwargs)
    return {"user-agent": AGENT_UA, **headers}


def describe(headers: dict[str, str], path: str = CATALOG) -> dict[str, Any]:
    return {"method": "GET", "url": f"http://testserver{path}", "headers": headers}


def test_a_correct_signature_is_explained_and_can_still_be_used_once(
    client: TestClient, partner: Ed25519PrivateKey
) -> None:
    headers = signed(partner)
    answer = client.post(EXPLAIN, json=describe(headers))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "verified"
    assert body["verified"] is True
    assert body["covered"] == ["@authority", "@method", "@path"]
    assert body["key"] == {
        "keyid": _signing.thumbprint(partner),
        "registered": True,
        "owner": "acme",
        "why_not": None,
    }
    assert body["signature_base"].splitlines()[:3] == [
        '"@authority": testserver',
        '"@method": GET',
        f'"@path": {CATALOG}',
    ]
    assert body["signature_base"].splitlines()[3].startswith('"@signature-params": (')
    assert "did not claim the nonce" in body["nonce"]
    # Explaining was not a use: the request goes through once, then is a replay.
    used = client.get(CATALOG, headers=headers)
    assert used.headers["x-signature-status"] == "verified"
    assert used.headers["x-visitor-class"] == "verified-agent"
    assert client.get(CATALOG, headers=headers).headers["x-signature-status"] == "replayed"


def test_a_tampered_request_is_explained_as_bad_signature_with_its_base(
    client: TestClient, partner: Ed25519PrivateKey
) -> None:
    headers = signed(partner, path="/api/v1/products/1")
    body = client.post(EXPLAIN, json=describe(headers, "/api/v1/products/2")).json()
    assert body["status"] == "bad-signature"
    assert body["verified"] is False
    assert body["key"]["owner"] == "acme"
    assert '"@path": /api/v1/products/2' in body["signature_base"]
    assert "does not match this request" in body["reason"]


def test_an_unknown_key_is_explained(client: TestClient) -> None:
    stranger = Ed25519PrivateKey.generate()
    body = client.post(EXPLAIN, json=describe(signed(stranger))).json()
    assert body["status"] == "unknown-key"
    assert body["key"]["keyid"] == _signing.thumbprint(stranger)
    assert body["key"]["registered"] is False
    assert "POST /api/v1/partners" in body["key"]["why_not"]
    assert body["signature_base"] is not None  # the base does not depend on the key


def test_a_header_that_does_not_parse_is_explained(client: TestClient) -> None:
    body = client.post(
        EXPLAIN,
        json=describe({"Signature-Input": 'sig1=("@authority"', "Signature": "sig1=:YQ==:"}),
    ).json()
    assert body["status"] == "malformed"
    assert "End of inner list not found" in body["reason"]
    assert body["signature_base"] is None
    assert body["signature_base_error"]


def test_the_request_itself_is_explained_when_nothing_is_described(
    client: TestClient, partner: Ed25519PrivateKey
) -> None:
    answer = client.post(EXPLAIN, headers=signed(partner, EXPLAIN, "POST"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["explained"] == "this-request"
    assert body["url"] == f"http://testserver{EXPLAIN}"
    assert body["status"] == "verified"
    assert body["gate_status"] == "verified"
    assert '"@method": POST' in body["signature_base"]


@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_every_visitor_reaches_the_debugger_under_every_preset(
    client: TestClient, preset: str
) -> None:
    switch = client.put("/api/v1/policy", json={"preset": preset}, headers=ADMIN)
    assert switch.status_code == 200
    for user_agent in (GPTBOT, AGENT_UA, "curl/8.5"):
        answer = client.post(EXPLAIN, headers={"user-agent": user_agent})
        assert answer.status_code == 200, (preset, user_agent, answer.text)
        assert answer.json()["status"] == "absent"


def test_a_described_url_must_be_absolute(client: TestClient) -> None:
    answer = client.post(EXPLAIN, json={"method": "GET", "url": "/api/v1/products"})
    assert answer.status_code == 422
    assert "absolute" in answer.json()["detail"]
