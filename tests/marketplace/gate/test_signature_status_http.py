"""What a signer is told, through HTTP, on both databases: `X-Signature-Status` on every answer,
the `signature` member of a refusal, 400 for headers that do not parse, `Accept-Signature`.

Each status is produced by the mistake a developer makes: an unregistered key, a skewed clock, a
stale signature, a reused nonce, a tampered path, a missing `@authority`, a wrong tag, too long a
validity, a header that does not parse.
"""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from tests.conftest import ADMIN_TOKEN, TEST_NOW
from tests.marketplace.gate import _signing

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
AGENT_UA = "AcmeShopper/1.0 (+https://acme.example/agent)"
NOW = int(TEST_NOW.timestamp())
CART = "/api/v1/cart"  # refused to unsigned tools under every enforcing preset
CATALOG = "/api/v1/products"


@pytest.fixture
def policy() -> str:
    return "closed"


@pytest.fixture
def partner(client: TestClient) -> Ed25519PrivateKey:
    key: Ed25519PrivateKey = _signing.register_partner(client, ADMIN)
    return key


def signed(key: Ed25519PrivateKey, path: str = CART, **kwargs: Any) -> dict[str, str]:
    options: dict[str, Any] = {"path": path, **kwargs}  # a mistake may sign another path
    return {"user-agent": AGENT_UA, **_signing.sign_now(key, now=NOW, **options)}


MISTAKES: dict[str, tuple[dict[str, Any], str]] = {
    "not-yet-valid": (
        {"created": NOW + 299, "expires": NOW + 359},
        "created is 299 s in the future; the allowed clock skew is 60 s",
    ),
    "expired": ({"created": NOW - 600, "expires": NOW - 500}, "expired 500 s ago"),
    "bad-signature": ({"path": CATALOG}, "does not match this request"),
    "missing-component": ({"components": ("@method", "@path")}, '"@authority"'),
    "too-long": ({"expires": NOW + 7200}, "valid for 7200 s; at most 3600 s"),
    "malformed": ({"alg": "rsa-pss-sha512"}, 'alg="ed25519"'),
}


@pytest.mark.parametrize("code", list(MISTAKES))
def test_a_registered_keys_mistake_is_named_on_the_refusal(
    client: TestClient, partner: Ed25519PrivateKey, code: str
) -> None:
    given, phrase = MISTAKES[code]
    changes = dict(given)
    path = changes.pop("path", CART)  # bad-signature: signed for another path
    headers = signed(partner, path, **changes)
    answer = client.get(CART, headers=headers)
    assert answer.status_code == 403, answer.text
    assert answer.headers["x-signature-status"] == code
    member = answer.json()["signature"]
    assert member["status"] == code
    assert member["keyid"] == _signing.thumbprint(partner)
    assert phrase in member["reason"]
    assert member["reason"].endswith(".")
    assert ".." not in member["reason"]
    assert "(InvalidSignature)" not in member["reason"]
    if code != "missing-component":
        assert member["covered"] == ["@authority", "@method", "@path"]
    else:
        assert member["covered"] == ["@method", "@path"]


def test_an_unknown_key_is_named_as_the_docs_promise(client: TestClient) -> None:
    stranger = Ed25519PrivateKey.generate()
    answer = client.get(CART, headers=signed(stranger))
    assert answer.status_code == 403
    assert answer.headers["x-signature-status"] == "unknown-key"
    member = answer.json()["signature"]
    assert member["status"] == "unknown-key"
    assert member["keyid"] == _signing.thumbprint(stranger)
    assert member["reason"].startswith(
        "The key is unknown here; register its public JWK with POST /api/v1/partners"
    )
    # Allowed answers say it too: the request went on its ordinary path, unverified.
    allowed = client.get(CATALOG, headers=signed(stranger, CATALOG))
    assert allowed.status_code == 200
    assert allowed.headers["x-signature-status"] == "unknown-key"


def test_a_wrong_tag_is_named(client: TestClient, partner: Ed25519PrivateKey) -> None:
    answer = client.get(CART, headers=signed(partner, tag="my-own-app"))
    assert answer.headers["x-signature-status"] == "wrong-tag"
    assert 'tag="web-bot-auth"' in answer.json()["signature"]["reason"]


def test_a_replayed_signature_is_named(client: TestClient, partner: Ed25519PrivateKey) -> None:
    headers = signed(partner, CATALOG)
    first = client.get(CATALOG, headers=headers)
    assert first.status_code == 200
    assert first.headers["x-signature-status"] == "verified"
    again = client.get(CATALOG, headers=headers)
    assert again.headers["x-signature-status"] == "replayed"


def test_a_verified_signature_is_said_on_allowed_and_refused_answers(
    client: TestClient, partner: Ed25519PrivateKey
) -> None:
    allowed = client.get(CATALOG, headers=signed(partner, CATALOG))
    assert allowed.headers["x-signature-status"] == "verified"
    assert allowed.headers["x-visitor-class"] == "verified-agent"
    refused = client.get(CART, headers=signed(partner))  # closed keeps partners out of carts
    assert refused.status_code == 403
    assert refused.headers["x-signature-status"] == "verified"
    assert refused.json()["signature"]["status"] == "verified"


def test_unsigned_answers_carry_no_signature_status(client: TestClient) -> None:
    answer = client.get(CART, headers={"user-agent": AGENT_UA})
    assert "x-signature-status" not in answer.headers
    assert "signature" not in answer.json()


@pytest.mark.parametrize(
    ("header", "value", "error"),
    [
        ("Signature-Input", 'sig1=("@authority"', "End of inner list not found"),
        ("Signature", "sig1=:abc", "ending ':'"),
    ],
)
def test_a_header_that_does_not_parse_is_answered_400(
    client: TestClient, partner: Ed25519PrivateKey, header: str, value: str, error: str
) -> None:
    headers = {**signed(partner, CATALOG), header: value}
    answer = client.get(CATALOG, headers=headers)  # a route the visitor may otherwise read
    assert answer.status_code == 400, answer.text
    assert answer.headers["x-signature-status"] == "malformed"
    body = answer.json()
    assert body["type"] == "/problems/signature-unparsable"
    assert header in body["title"]
    assert error in body["detail"]
    assert body["signature"]["status"] == "malformed"
    assert client.get("/problems/signature-unparsable").status_code == 200


def test_a_lone_signature_header_of_another_scheme_stays_on_the_ordinary_path(
    client: TestClient,
) -> None:
    cavage = 'keyId="k",algorithm="hs2019",headers="(request-target)",signature="YWJj"'
    answer = client.get(CATALOG, headers={"user-agent": AGENT_UA, "Signature": cavage})
    assert answer.status_code == 200
    assert answer.headers["x-signature-status"] == "malformed"


def test_refusals_a_signature_would_fix_carry_accept_signature(client: TestClient) -> None:
    unsigned = {"user-agent": AGENT_UA}
    # Under closed, a signed partner is refused the cart too: no signature would help.
    assert "accept-signature" not in client.get(CART, headers=unsigned).headers
    switch = client.put("/api/v1/policy", json={"preset": "partner-only"}, headers=ADMIN)
    assert switch.status_code == 200
    refused = client.get(CART, headers=unsigned)
    assert refused.status_code == 403
    assert refused.headers["accept-signature"] == (
        'sig1=("@authority" "@method" "@path");created;expires;nonce;alg="ed25519";'
        'tag="web-bot-auth"'
    )
    switch = client.put("/api/v1/policy", json={"preset": "pay-per-crawl"}, headers=ADMIN)
    assert switch.status_code == 200
    priced = client.get(CATALOG, headers=unsigned)
    assert priced.status_code == 402
    assert '"crawler-exact-price")' in priced.headers["accept-signature"]
