"""Verifier conformance through the app, on both databases: what an honest signer meets.

Each case is one finding of the interoperability review: `@target-uri` in place of `@authority`,
several signatures, unverifiable signatures on the ordinary path, nonces of any legal length, the
Signature-Agent limit, both Signature-Agent forms and the policy's profiles.
"""

from __future__ import annotations

import base64
import secrets
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from tests.conftest import ADMIN_TOKEN, TEST_NOW
from tests.marketplace.gate import _signing

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
AGENT_UA = "AcmeShopper/1.0 (+https://acme.example/agent)"
AGENT = "https://acme.example/.well-known/http-message-signatures-directory"
NOW = int(TEST_NOW.timestamp())
PATH = "/api/v1/products"


@pytest.fixture
def policy() -> str:
    return "closed"


@pytest.fixture
def partner(client: TestClient) -> Ed25519PrivateKey:
    key: Ed25519PrivateKey = _signing.register_partner(client, ADMIN)
    return key


def sign(
    key: Ed25519PrivateKey, path: str = PATH, method: str = "GET", **kwargs: Any
) -> dict[str, str]:
    return _signing.sign_now(key, path=path, now=NOW, method=method, **kwargs)


def last_signature(client: TestClient) -> dict[str, Any]:
    """What the decision log recorded about the signature of the latest request."""
    items = client.get("/api/v1/decisions", params={"page_size": 1}, headers=ADMIN).json()["items"]
    signature: dict[str, Any] = items[0]["signals"]["signature"]
    return signature


def test_an_unknown_keys_valid_signature_leaves_a_browser_exactly_as_unsigned(
    client: TestClient,
) -> None:
    stranger = Ed25519PrivateKey.generate()
    for method, path, body in (
        ("GET", "/api/v1/products/1", None),
        ("POST", "/api/v1/cart/items", {}),
    ):
        unsigned = client.request(method, path, json=body)
        signed = client.request(method, path, json=body, headers=sign(stranger, path, method))
        assert signed.status_code == unsigned.status_code, signed.text
        for name in ("x-policy-decision", "x-policy-rule", "x-visitor-class"):
            assert signed.headers[name] == unsigned.headers[name], name
        assert last_signature(client)["code"] == "unknown-key"
        if method == "GET":
            assert signed.headers["x-visitor-class"] == "human"


def test_a_registered_keys_broken_signature_behind_a_browser_is_still_challenged(
    client: TestClient, partner: Ed25519PrivateKey
) -> None:
    path = "/api/v1/cart/items"
    stale = sign(partner, path, "POST", created=NOW - 600, expires=NOW - 500)
    posing = client.post(path, json={}, headers=stale)
    assert posing.status_code == 403
    assert posing.headers["x-visitor-class"] == "suspected-agent"
    assert posing.headers["x-policy-decision"] == "challenge"
    assert last_signature(client)["code"] == "expired"


def test_target_uri_in_place_of_authority(client: TestClient, partner: Ed25519PrivateKey) -> None:
    headers = sign(partner, components=("@target-uri",), query="q=tent")
    answer = client.get(PATH, params={"q": "tent"}, headers={"user-agent": AGENT_UA, **headers})
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-visitor-class"] == "verified-agent"


def test_two_signatures_on_one_request_are_validated_independently(
    client: TestClient, partner: Ed25519PrivateKey
) -> None:
    outer = sign(Ed25519PrivateKey.generate(), label="proxy")
    inner = sign(partner, label="agent")
    headers = {
        "user-agent": AGENT_UA,
        "Signature-Input": f"{outer['Signature-Input']}, {inner['Signature-Input']}",
        "Signature": f"{outer['Signature']}, {inner['Signature']}",
    }
    answer = client.get(PATH, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-visitor-class"] == "verified-agent"
    assert last_signature(client)["owner"] == "acme"


@pytest.mark.parametrize("size", [32, 64, 96, 128])
def test_nonces_of_any_legal_length_are_stored(
    client: TestClient, partner: Ed25519PrivateKey, size: int
) -> None:
    nonce = base64.urlsafe_b64encode(secrets.token_bytes(size)).decode().rstrip("=")
    headers = {"user-agent": AGENT_UA, **sign(partner, nonce=nonce)}
    first = client.get(PATH, headers=headers)
    assert first.status_code == 200, first.text
    assert first.headers["x-visitor-class"] == "verified-agent"
    assert first.headers["x-policy-rule"] != "on-error"
    replayed = client.get(PATH, headers=headers)
    assert replayed.headers["x-visitor-class"] != "verified-agent"
    assert last_signature(client)["code"] == "replayed"


def test_an_oversized_signature_agent_cites_its_own_limit(
    client: TestClient, partner: Ed25519PrivateKey
) -> None:
    headers = sign(
        partner, components=("@authority", "signature-agent"), agent=AGENT + "?" + "a" * 1100
    )
    client.get(PATH, headers={"user-agent": AGENT_UA, **headers})
    reason = last_signature(client)["reason"]
    assert "1024 bytes" in reason
    assert "4096" not in reason


@pytest.mark.parametrize(
    ("components", "agent_header"),
    [
        (("@authority", "signature-agent;key=sig1"), f'sig1="{AGENT}";type=directory'),
        (("@authority", "signature-agent"), f'sig1="{AGENT}"'),
        (("@authority", "signature-agent"), f'"{AGENT}"'),
    ],
    ids=["ietf-member", "ietf-whole-header", "legacy-string"],
)
def test_both_signature_agent_forms_are_verified(
    client: TestClient, partner: Ed25519PrivateKey, components: tuple[str, ...], agent_header: str
) -> None:
    headers = sign(partner, components=components, agent_header=agent_header)
    answer = client.get(PATH, headers={"user-agent": AGENT_UA, **headers})
    assert answer.headers["x-visitor-class"] == "verified-agent", last_signature(client)
    assert last_signature(client)["agent"] == AGENT


def test_the_policy_chooses_its_profiles(client: TestClient, partner: Ed25519PrivateKey) -> None:
    def tap() -> dict[str, str]:
        headers = sign(partner, tag="agent-payer-auth", components=("@authority", "@path"))
        return {"user-agent": AGENT_UA, **headers}

    legacy = {
        "user-agent": AGENT_UA,
        **sign(partner, components=("@authority", "signature-agent"), agent=AGENT),
    }
    assert client.get(PATH, headers=tap()).headers["x-visitor-class"] == "automation"
    assert last_signature(client)["code"] == "wrong-tag"

    policy = "extends: closed\nname: tap-only\nsignatures: {profiles: [ietf, visa-tap]}\n"
    assert client.put("/api/v1/policy", json={"yaml": policy}, headers=ADMIN).status_code == 200
    assert client.get(PATH, headers=tap()).headers["x-visitor-class"] == "verified-agent"
    refused = client.get(PATH, headers=legacy)
    assert refused.headers["x-visitor-class"] == "automation"
    assert "legacy" in last_signature(client)["reason"]
