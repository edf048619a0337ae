"""Web Bot Auth between this platform and other implementations, through HTTP, on both databases.

Signed by Cloudflare's npm `web-bot-auth` 0.1.3: the legacy string form of `Signature-Agent` and
the dictionary form covered whole. (0.1.3 serialises a covered dictionary member,
`"signature-agent";key="sig1"`, as the whole field rather than the member's value, against
RFC 9421 section 2.1.2, so that form is signed here by the Python `http-message-signatures`
library instead.) The other way round, the platform's signatures are checked by
`web-bot-auth`'s verifier and the key directory's response by its `http-message-sig`.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import time
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.testclient import TestClient
from http_message_signatures import HTTPMessageSigner, MappingKeyResolver, algorithms

from marketplace.core.appstate import state_of
from marketplace.gate.identity.keys import public_jwk
from marketplace.gate.identity.sign import sign_request
from tests.conftest import ADMIN_TOKEN
from tests.interop.conftest import WebBotAuthJS

pytestmark = pytest.mark.interop

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
AGENT_UA = "InteropAgent/1.0 (+https://agent.example/bot)"
DIRECTORY = "https://agent.example/.well-known/http-message-signatures-directory"
URL = "http://testserver/api/v1/products?q=tent"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def private_jwk(key: Ed25519PrivateKey) -> dict[str, str]:
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return {**public_jwk(key.public_key()), "d": b64url(raw)}


def register(client: TestClient, name: str) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    jwk = {k: v for k, v in public_jwk(key.public_key()).items() if k != "kid"}
    answer = client.post("/api/v1/partners", json={"name": name, "jwk": jwk}, headers=ADMIN)
    assert answer.status_code == 201, answer.text
    return key


def js_sign(
    web_bot_auth: WebBotAuthJS,
    key: Ed25519PrivateKey,
    headers: dict[str, str],
    url: str = URL,
    **options: Any,
) -> dict[str, str]:
    """Headers signed by web-bot-auth: the given ones plus Signature and Signature-Input."""
    now = int(time.time())
    answer = web_bot_auth(
        "sign",
        url=url,
        headers=headers,
        jwk=private_jwk(key),
        created=now,
        expires=now + 60,
        **options,
    )
    assert answer["ok"], answer
    return {**headers, **answer["headers"]}


def get(client: TestClient, headers: dict[str, str], url: str = URL) -> httpx.Response:
    return client.get(url, headers={"user-agent": AGENT_UA, **headers})


def signal(client: TestClient) -> dict[str, Any]:
    items = client.get("/api/v1/decisions", params={"page_size": 1}, headers=ADMIN).json()["items"]
    signature: dict[str, Any] = items[0]["signals"]["signature"]
    return signature


# --- Signed by web-bot-auth, verified by the platform -----------------------------------------


@pytest.mark.parametrize(
    "agent_header",
    [f'"{DIRECTORY}"', f'sig1="{DIRECTORY}";type=directory'],
    ids=["legacy-string", "dictionary-covered-whole"],
)
def test_web_bot_auth_signatures_are_verified(
    client: TestClient, web_bot_auth: WebBotAuthJS, agent_header: str
) -> None:
    key = register(client, "cloudflare-signed")
    headers = js_sign(web_bot_auth, key, {"Signature-Agent": agent_header})
    assert '("@authority" "signature-agent")' in headers["Signature-Input"]
    answer = get(client, headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-visitor-class"] == "verified-agent"
    seen = signal(client)
    assert (seen["code"], seen["agent"]) == ("verified", DIRECTORY)


def test_web_bot_auth_signature_over_target_uri_is_verified(
    client: TestClient, web_bot_auth: WebBotAuthJS
) -> None:
    key = register(client, "cloudflare-signed")
    headers = js_sign(
        web_bot_auth,
        key,
        {"Signature-Agent": f'"{DIRECTORY}"'},
        components=["@target-uri", "signature-agent"],
    )
    assert '"@authority"' not in headers["Signature-Input"]
    answer = get(client, headers)
    assert answer.headers["x-visitor-class"] == "verified-agent", signal(client)


def test_web_bot_auth_replays_and_tampering_are_refused(
    client: TestClient, web_bot_auth: WebBotAuthJS
) -> None:
    key = register(client, "cloudflare-signed")
    headers = js_sign(web_bot_auth, key, {"Signature-Agent": f'"{DIRECTORY}"'})
    assert get(client, headers).headers["x-visitor-class"] == "verified-agent"
    assert get(client, headers).headers["x-visitor-class"] != "verified-agent"
    assert signal(client)["code"] == "replayed"
    fresh = js_sign(web_bot_auth, key, {"Signature-Agent": f'"{DIRECTORY}"'})
    tampered = {**fresh, "Signature-Agent": '"https://impostor.example"'}
    assert get(client, tampered).headers["x-visitor-class"] != "verified-agent"
    assert signal(client)["code"] == "bad-signature"


def second_implementation(
    key: Ed25519PrivateKey, request: httpx.Request, *, label: str, append: bool = False
) -> None:
    """`"signature-agent";key=...` signed by the Python http-message-signatures library."""
    keyid = public_jwk(key.public_key())["kid"]
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={keyid: key}),
    )
    created = dt.datetime.now(dt.UTC).replace(microsecond=0)
    signer.sign(
        request,
        key_id=keyid,
        created=created,
        expires=created + dt.timedelta(minutes=1),
        nonce=b64url(secrets.token_bytes(64)),
        label=label,
        tag="web-bot-auth",
        covered_component_ids=("@authority", f'"signature-agent";key="{label}"'),
        append_if_signature_exists=append,
    )


def test_the_dictionary_member_form_of_a_second_implementation_is_verified(
    client: TestClient,
) -> None:
    key = register(client, "python-signed")
    request = httpx.Request(
        "GET", URL, headers={"Signature-Agent": f'sig1="{DIRECTORY}";type=directory'}
    )
    second_implementation(key, request, label="sig1")
    assert '"signature-agent";key="sig1"' in request.headers["signature-input"]
    answer = get(client, dict(request.headers))
    assert answer.headers["x-visitor-class"] == "verified-agent", signal(client)
    assert signal(client)["agent"] == DIRECTORY


def test_two_implementations_sign_one_request_and_each_is_checked(
    client: TestClient, web_bot_auth: WebBotAuthJS
) -> None:
    cloudflare, python = register(client, "cloudflare-signed"), register(client, "python-signed")
    agent = f'cf="{DIRECTORY}", py="https://proxy.example/keys"'
    headers = js_sign(web_bot_auth, cloudflare, {"Signature-Agent": agent}, label="cf")
    request = httpx.Request("GET", URL, headers=headers)
    second_implementation(python, request, label="py", append=True)
    assert request.headers["signature"].startswith("cf=")
    answer = get(client, dict(request.headers))
    assert answer.headers["x-visitor-class"] == "verified-agent", signal(client)
    assert signal(client)["owner"] == "cloudflare-signed"
    # Either signature holds alone; neither can be lifted off and replayed.
    for label in ("cf", "py"):
        alone = {
            **headers,
            "Signature-Input": _member(request.headers["signature-input"], label),
            "Signature": _member(request.headers["signature"], label),
        }
        assert get(client, alone).headers["x-visitor-class"] != "verified-agent"
        assert signal(client)["code"] == "replayed"


def _member(field: str, label: str) -> str:
    """One member of a Signature or Signature-Input field (members hold no top-level comma)."""
    return next(part.strip() for part in field.split(", ") if part.startswith(f"{label}="))


# --- Signed by the platform, verified by web-bot-auth -----------------------------------------


def test_the_platforms_request_signatures_verify_with_web_bot_auth(
    app: FastAPI, web_bot_auth: WebBotAuthJS
) -> None:
    key = state_of(app).identity.signing_key
    headers = sign_request(
        "GET",
        URL,
        None,
        private_key=key,
        keyid=public_jwk(key.public_key())["kid"],
        now=time.time(),
        nonce=b64url(secrets.token_bytes(64)),
    )
    jwk = public_jwk(key.public_key())
    assert web_bot_auth("verify", url=URL, headers=headers, jwk=jwk) == {"ok": True}
    # The verifier does check: the same signature on another path fails.
    other = web_bot_auth("verify", url=URL.replace("products", "orders"), headers=headers, jwk=jwk)
    assert other["ok"] is False


def test_the_key_directory_response_verifies_with_http_message_sig(
    client: TestClient, app: FastAPI, web_bot_auth: WebBotAuthJS
) -> None:
    url = "http://testserver/.well-known/http-message-signatures-directory"
    response = client.get(url)
    assert response.status_code == 200
    checked = web_bot_auth(
        "verify-directory",
        url=url,
        status=response.status_code,
        headers=dict(response.headers),
        body=response.text,
    )
    assert checked == {"ok": True, "keyid": state_of(app).identity.keyid}
    altered = json.dumps({"keys": [*response.json()["keys"], {"kty": "OKP"}]})
    tampered = web_bot_auth(
        "verify-directory",
        url=url,
        status=response.status_code,
        headers=dict(response.headers),
        body=altered,
    )
    assert tampered["ok"] is False
    assert "content-digest" in tampered["error"]
