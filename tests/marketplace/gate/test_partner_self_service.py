"""Self-service partner keys: an agent registers, lists and rotates its own keys by signing."""

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
AGENT_UA = "ChatGPT-User/1.0 (+https://openai.com/bot)"  # a declared agent of the registry
NOW = int(TEST_NOW.timestamp())


@pytest.fixture
def policy() -> str:
    return "open"


def signed(key: Ed25519PrivateKey, method: str, path: str) -> dict[str, str]:
    headers = _signing.sign(
        key,
        method=method,
        authority="testserver",
        path=path,
        created=NOW,
        expires=NOW + 60,
        nonce=secrets.token_urlsafe(64),
    )
    return {"user-agent": AGENT_UA, **headers}


def register(client: TestClient, key: Ed25519PrivateKey, name: str, signer: Any = None) -> Any:
    return client.post(
        "/api/v1/partners",
        json={"name": name, "jwk": _signing.jwk(key)},
        headers=signed(signer or key, "POST", "/api/v1/partners"),
    )


def test_an_agent_registers_its_own_key_and_is_verified(client: TestClient) -> None:
    key = Ed25519PrivateKey.generate()
    before = client.get("/api/v1/cart", headers=signed(key, "GET", "/api/v1/cart"))
    assert before.headers["x-visitor-class"] == "declared-agent"

    created = register(client, key, "my-agent")
    assert created.status_code == 201, created.text
    assert [k["keyid"] for k in created.json()["keys"]] == [_signing.thumbprint(key)]

    after = client.get("/api/v1/products", headers=signed(key, "GET", "/api/v1/products"))
    assert after.headers["x-visitor-class"] == "verified-agent"
    mine = client.get(
        "/api/v1/partners/my-agent", headers=signed(key, "GET", "/api/v1/partners/my-agent")
    )
    assert mine.status_code == 200, mine.text
    assert mine.json()["name"] == "my-agent"
    # The admin routes are as they were: the list needs the token.
    assert (
        client.get("/api/v1/partners", headers=signed(key, "GET", "/api/v1/partners")).status_code
        == 401
    )
    assert client.get("/api/v1/partners", headers=ADMIN).json()[0]["name"] == "my-agent"
    # A second run with the same name is a conflict, not a replay or a crash.
    again = register(client, key, "my-agent")
    assert again.status_code == 409, again.text


def test_a_body_key_that_did_not_sign_is_refused(client: TestClient) -> None:
    body_key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    refused = register(client, body_key, "someone-else", signer=other)
    assert refused.status_code == 403, refused.text
    problem = refused.json()
    assert problem["type"] == "/problems/self-service-proof"
    assert "unknown-key" in problem["detail"]
    unsigned = client.post("/api/v1/partners", json={"name": "x", "jwk": _signing.jwk(body_key)})
    assert unsigned.status_code == 401
    assert client.get("/api/v1/partners", headers=ADMIN).json() == []


def test_published_test_keys_are_refused_by_self_service(client: TestClient) -> None:
    # RFC 8037's example key, private part included: anyone can sign with it, so a signature
    # by it proves nothing.
    key = Ed25519PrivateKey.from_private_bytes(
        base64.urlsafe_b64decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=")
    )
    assert _signing.jwk(key)["x"] == "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    refused = register(client, key, "published")
    assert refused.status_code == 422, refused.text
    assert "anyone can sign" in refused.json()["detail"]


def test_rotation_adds_the_new_key_and_removes_the_old(client: TestClient) -> None:
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    assert register(client, old, "rotating").status_code == 201
    path = "/api/v1/partners/rotating/keys"
    added = client.post(path, json={"jwk": _signing.jwk(new)}, headers=signed(old, "POST", path))
    assert added.status_code == 200, added.text
    keyids = [k["keyid"] for k in added.json()["keys"]]
    assert keyids == [_signing.thumbprint(old), _signing.thumbprint(new)]
    # A stranger's key cannot change the partner.
    stranger = Ed25519PrivateKey.generate()
    denied = client.post(
        path, json={"jwk": _signing.jwk(stranger)}, headers=signed(stranger, "POST", path)
    )
    assert denied.status_code == 403
    assert denied.json()["type"] == "/problems/self-service-proof"

    gone = f"{path}/{_signing.thumbprint(old)}"
    deleted = client.delete(gone, headers=signed(new, "DELETE", gone))
    assert deleted.status_code == 204, deleted.text
    last = f"{path}/{_signing.thumbprint(new)}"
    kept = client.delete(last, headers=signed(new, "DELETE", last))
    assert kept.status_code == 409
    assert kept.json()["type"] == "/problems/partner-key-last"

    with_new = client.get("/api/v1/products", headers=signed(new, "GET", "/api/v1/products"))
    assert with_new.headers["x-visitor-class"] == "verified-agent"
    with_old = client.get("/api/v1/products", headers=signed(old, "GET", "/api/v1/products"))
    assert with_old.headers["x-visitor-class"] != "verified-agent"
    items = client.get("/api/v1/decisions", params={"page_size": 1}, headers=ADMIN).json()
    assert items["items"][0]["signals"]["signature"]["code"] == "unknown-key"


def test_the_admin_manages_keys_too(client: TestClient) -> None:
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    client.post("/api/v1/partners", json={"name": "acme", "jwk": _signing.jwk(old)}, headers=ADMIN)
    added = client.post(
        "/api/v1/partners/acme/keys", json={"jwk": _signing.jwk(new)}, headers=ADMIN
    )
    assert added.status_code == 200
    url = f"/api/v1/partners/acme/keys/{_signing.thumbprint(old)}"
    assert client.delete(url, headers=ADMIN).status_code == 204
    listed = client.get("/api/v1/partners/acme", headers=ADMIN).json()
    assert [k["keyid"] for k in listed["keys"]] == [_signing.thumbprint(new)]
    assert client.delete(url, headers=ADMIN).status_code == 404


@pytest.mark.parametrize("preset", ["closed", "partner-only", "pay-per-crawl"])
def test_self_service_is_refused_where_the_policy_does_not_allow_it(
    client: TestClient, preset: str
) -> None:
    assert client.put("/api/v1/policy", json={"preset": preset}, headers=ADMIN).status_code == 200
    key = Ed25519PrivateKey.generate()
    refused = register(client, key, "my-agent")
    assert refused.status_code == 403, refused.text
    problem = refused.json()
    assert problem["type"] == "/problems/self-service-off"
    assert "partners.self_service" in problem["detail"]
    assert preset in problem["detail"]


def test_a_policy_turns_self_service_on_and_keeps_its_partner_list(client: TestClient) -> None:
    key = Ed25519PrivateKey.generate()
    text = "extends: closed\nname: closed-but-testing\npartners: {self_service: true}\n"
    assert client.put("/api/v1/policy", json={"yaml": text}, headers=ADMIN).status_code == 200
    assert register(client, key, "my-agent").status_code == 201
