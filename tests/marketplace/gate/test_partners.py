"""The partner registry over HTTP, the key directory, and keyrings that follow the registry."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.testclient import TestClient

from marketplace.app import create_app
from marketplace.core.appstate import state_of
from marketplace.core.clock import FrozenClock
from marketplace.core.db import Database
from marketplace.core.settings import Settings
from marketplace.gate.facts import RequestFacts
from marketplace.gate.identity.keys import (
    DIRECTORY_MEDIA_TYPE,
    jwk_thumbprint,
    load_or_create_platform_key,
    public_jwk,
)
from marketplace.gate.identity.layer import Identity
from tests.marketplace.gate import _identity_db
from tests.marketplace.gate._signing import jwk, sign, thumbprint

migrated_url = _identity_db.migrated_url

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
ADMIN = "test-admin-token"
AUTH = {"Authorization": f"Bearer {ADMIN}"}


def make_app(url: str, data_dir: Path) -> FastAPI:
    settings = Settings(
        data_dir=data_dir,
        database_url=url,
        admin_token=ADMIN,
        secret_key="test-secret-key",
        policy="observe",
    )
    return create_app(settings, database=Database(url), clock=FrozenClock(NOW))


@pytest.fixture
def app(migrated_url: str, tmp_path: Path) -> FastAPI:
    return make_app(migrated_url, tmp_path / "data")


@pytest.fixture
def api(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def signed_facts(key: Ed25519PrivateKey, nonce: str = "n1") -> RequestFacts:
    t = int(NOW.timestamp())
    headers = sign(
        key,
        method="GET",
        authority="testserver",
        path="/api/v1/products",
        created=t,
        expires=t + 60,
        nonce=nonce,
    )
    return RequestFacts(
        method="GET",
        path="/api/v1/products",
        raw_path="/api/v1/products",
        query="",
        authority="testserver",
        scheme="http",
        headers=tuple((k.lower(), v) for k, v in headers.items()),
        client_ip="127.0.0.1",
        session_id=None,
        route_class="catalog",
        is_asset=False,
    )


# --- Admin token ----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_partners_need_the_admin_token(api: TestClient, method: str) -> None:
    body = {"name": "acme", "jwk": jwk(Ed25519PrivateKey.generate())}
    missing = api.request(method, "/api/v1/partners", json=body)
    assert missing.status_code == 401
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert "SANDBOX_ADMIN_TOKEN" in missing.json()["detail"]
    wrong = api.request(
        method, "/api/v1/partners", json=body, headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 403
    assert api.delete("/api/v1/partners/acme").status_code == 401


# --- CRUD -----------------------------------------------------------------------------------


def test_register_list_and_delete_a_partner(api: TestClient) -> None:
    key = Ed25519PrivateKey.generate()
    created = api.post("/api/v1/partners", json={"name": "acme", "jwk": jwk(key)}, headers=AUTH)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == "acme"
    assert [k["keyid"] for k in body["keys"]] == [thumbprint(key)]

    listed = api.get("/api/v1/partners", headers=AUTH)
    assert listed.status_code == 200
    assert [(p["name"], p["keys"][0]["keyid"]) for p in listed.json()] == [
        ("acme", thumbprint(key))
    ]

    assert api.delete("/api/v1/partners/acme", headers=AUTH).status_code == 204
    assert api.get("/api/v1/partners", headers=AUTH).json() == []
    gone = api.delete("/api/v1/partners/acme", headers=AUTH)
    assert gone.status_code == 404
    assert "GET /api/v1/partners" in gone.json()["detail"]


def test_register_a_key_set(api: TestClient) -> None:
    keys = [Ed25519PrivateKey.generate() for _ in range(2)]
    response = api.post(
        "/api/v1/partners",
        json={"name": "team-7", "jwks": {"keys": [jwk(k) for k in keys]}},
        headers=AUTH,
    )
    assert response.status_code == 201, response.text
    assert {k["keyid"] for k in response.json()["keys"]} == {thumbprint(k) for k in keys}


def test_private_key_is_refused(api: TestClient) -> None:
    key = Ed25519PrivateKey.generate()
    response = api.post(
        "/api/v1/partners", json={"name": "leaky", "jwk": jwk(key, private=True)}, headers=AUTH
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "private key" in detail
    assert "only the public key" in detail
    # the refused private key is not echoed back
    assert jwk(key, private=True)["d"] not in response.text
    assert api.get("/api/v1/partners", headers=AUTH).json() == []


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ({"kty": "RSA", "n": "abc", "e": "AQAB"}, "OKP"),
        ({"kty": "OKP", "crv": "X25519", "x": "A" * 43}, "Ed25519"),
        ({"kty": "OKP", "crv": "Ed25519", "x": "too-short"}, "32-byte"),
        ({"kty": "OKP", "crv": "Ed25519", "x": "A" * 43 + "="}, "32-byte"),
        ({"kty": "OKP", "crv": "Ed25519"}, "32-byte"),
    ],
)
def test_invalid_jwk_is_refused_with_a_reason(api: TestClient, bad: dict, words: str) -> None:
    response = api.post("/api/v1/partners", json={"name": "x", "jwk": bad}, headers=AUTH)
    assert response.status_code == 422
    assert words in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "both", "jwk": {}, "jwks": {"keys": []}},
        {"name": "neither"},
        {"name": "bad name!", "jwk": {}},
        {"name": "empty", "jwks": {"keys": []}},
        {"name": "x", "jwk": {}, "extra": 1},
    ],
)
def test_malformed_bodies_are_refused(api: TestClient, body: dict) -> None:
    assert api.post("/api/v1/partners", json=body, headers=AUTH).status_code == 422


def test_duplicate_name_and_shared_key_conflict(api: TestClient) -> None:
    key = Ed25519PrivateKey.generate()
    assert (
        api.post("/api/v1/partners", json={"name": "a", "jwk": jwk(key)}, headers=AUTH).status_code
        == 201
    )
    again = api.post(
        "/api/v1/partners",
        json={"name": "a", "jwk": jwk(Ed25519PrivateKey.generate())},
        headers=AUTH,
    )
    assert again.status_code == 409
    assert "DELETE" in again.json()["detail"]
    shared = api.post("/api/v1/partners", json={"name": "b", "jwk": jwk(key)}, headers=AUTH)
    assert shared.status_code == 409


@pytest.mark.parametrize(
    ("x", "where"),
    [
        ("JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs", "RFC 9421"),
        ("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "RFC 8037"),
    ],
)
def test_published_test_keys_are_refused(api: TestClient, x: str, where: str) -> None:
    key = {"kty": "OKP", "crv": "Ed25519", "x": x}
    response = api.post("/api/v1/partners", json={"name": "tester", "jwk": key}, headers=AUTH)
    assert response.status_code == 422, response.text
    assert where in response.json()["detail"]
    assert "anyone can sign" in response.json()["detail"]
    in_a_set = api.post(
        "/api/v1/partners",
        json={"name": "tester", "jwks": {"keys": [jwk(Ed25519PrivateKey.generate()), key]}},
        headers=AUTH,
    )
    assert in_a_set.status_code == 422
    assert "jwks.keys[1]" in in_a_set.json()["detail"]
    assert api.get("/api/v1/partners", headers=AUTH).json() == []
    policy = (
        "extends: open\nname: with-test-key\npartners:\n"
        f"  - name: tester\n    jwk: {{kty: OKP, crv: Ed25519, x: '{x}'}}\n"
    )
    refused = api.put("/api/v1/policy", json={"yaml": policy}, headers=AUTH)
    assert refused.status_code == 422, refused.text
    assert where in refused.text
    assert "partners" in refused.text


def test_platform_key_cannot_be_registered_as_a_partner(api: TestClient, app: FastAPI) -> None:
    platform = state_of(app).identity.signing_key.public_key()
    response = api.post(
        "/api/v1/partners",
        json={"name": "copycat", "jwk": public_jwk(platform)},
        headers=AUTH,
    )
    assert response.status_code == 409


# --- Keyrings -------------------------------------------------------------------------------


def test_registered_key_verifies_as_that_partner(api: TestClient, app: FastAPI) -> None:
    identity: Identity = state_of(app).identity
    key = Ed25519PrivateKey.generate()
    assert identity.verify(signed_facts(key), policy=None, now=NOW).status == "invalid"
    api.post("/api/v1/partners", json={"name": "acme", "jwk": jwk(key)}, headers=AUTH)
    result = identity.verify(signed_facts(key, nonce="n2"), policy=None, now=NOW)
    assert result.valid, result.reason
    assert result.owner == "acme"
    api.delete("/api/v1/partners/acme", headers=AUTH)
    assert identity.verify(signed_facts(key, nonce="n3"), policy=None, now=NOW).status == "invalid"


def test_policy_partners_are_in_the_keyring(app: FastAPI) -> None:
    identity = state_of(app).identity
    key = Ed25519PrivateKey.generate()

    class Partner:
        name = "from-policy"

        def keys(self) -> list[dict[str, str]]:
            return [jwk(key)]

    class Policy:
        partners = (Partner(),)

    result = identity.verify(signed_facts(key), policy=Policy(), now=NOW)
    assert result.valid, result.reason
    assert result.owner == "from-policy"


def test_registry_change_reaches_another_worker(migrated_url: str, tmp_path: Path) -> None:
    one = make_app(migrated_url, tmp_path / "data")
    two = make_app(migrated_url, tmp_path / "data")
    key = Ed25519PrivateKey.generate()
    with TestClient(one) as api_one, TestClient(two):
        ident_two = state_of(two).identity
        assert ident_two.verify(signed_facts(key), policy=None, now=NOW).status == "invalid"
        api_one.post("/api/v1/partners", json={"name": "acme", "jwk": jwk(key)}, headers=AUTH)
        ident_two.state.flush()  # the background tick does this every 0.2 s
        result = ident_two.verify(signed_facts(key, nonce="n9"), policy=None, now=NOW)
        assert result.valid, result.reason
        assert result.owner == "acme"


# --- The key directory ----------------------------------------------------------------------


def test_key_directory_serves_only_the_public_key(api: TestClient, app: FastAPI) -> None:
    response = api.get("/.well-known/http-message-signatures-directory")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(DIRECTORY_MEDIA_TYPE)
    keys = response.json()["keys"]
    assert len(keys) == 1
    assert set(keys[0]) <= {"kty", "crv", "x", "kid"}
    identity = state_of(app).identity
    assert keys[0]["kid"] == jwk_thumbprint(keys[0]) == identity.keyid
    private = identity.signing_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    d = base64.urlsafe_b64encode(private).rstrip(b"=").decode()
    assert d not in response.text
    assert "PRIVATE" not in response.text
    assert d not in json.dumps(dict(response.headers))


def test_key_directory_response_is_signed_over_its_content_digest(
    api: TestClient, app: FastAPI
) -> None:
    response = api.get("/.well-known/http-message-signatures-directory")
    # RFC 9530: the sha-256 digest of the bytes sent, as a structured-field byte sequence.
    digest = base64.b64encode(hashlib.sha256(response.content).digest()).decode()
    assert response.headers["content-digest"] == f"sha-256=:{digest}:"
    sig_input = response.headers["signature-input"]
    assert 'tag="http-message-signatures-directory"' in sig_input
    assert '("@authority";req "content-digest")' in sig_input
    params = sig_input.split("=", 1)[1]
    base = (
        f'"@authority";req: testserver\n"content-digest": sha-256=:{digest}:\n'
        f'"@signature-params": {params}'
    ).encode()
    signature = base64.b64decode(response.headers["signature"].split(":")[1])
    state_of(app).identity.signing_key.public_key().verify(signature, base)


def test_platform_key_file_is_private_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "platform.pem"
    first = load_or_create_platform_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = load_or_create_platform_key(path)
    assert public_jwk(first.public_key()) == public_jwk(second.public_key())
    path.chmod(0o644)
    load_or_create_platform_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_non_ed25519_key_file_is_refused_with_a_reason(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    path = tmp_path / "ec.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(RuntimeError, match="Ed25519"):
        load_or_create_platform_key(path)


def test_app_creates_the_key_in_the_data_folder(app: FastAPI, tmp_path: Path) -> None:
    path = tmp_path / "data" / "platform-signing-key.pem"
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert repr(state_of(app).identity).startswith("Identity(keyid=")
