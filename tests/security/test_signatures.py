"""Signature hardening through HTTP, beyond the verifier's unit tests (test_webbotauth.py).

What is new here: the price a crawler accepts must be covered by its signature, garbage in the
structured fields never crashes the gate or verifies, header lines sent twice do not combine into
a valid signature, a replay is refused by the app, and the clock-skew limits hold end to end.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Sequence

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ADMIN_TOKEN, TEST_NOW
from tests.marketplace.gate import _signing

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
GPTBOT = "Mozilla/5.0 (compatible; GPTBot/1.1; +https://openai.com/gptbot)"
PATH = "/api/v1/products/1"
SKEW = 60
NOW = int(TEST_NOW.timestamp())


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


@pytest.fixture
def key(client: TestClient) -> Ed25519PrivateKey:
    """A crawler registered as a partner under pay-per-crawl, with a known clock-skew limit."""
    key = Ed25519PrivateKey.generate()
    x = _signing.jwk(key)["x"]
    policy = (
        "extends: pay-per-crawl\nname: pay-test\n"
        f"signatures: {{max_clock_skew_s: {SKEW}, max_validity_s: 600}}\n"
        f"partners:\n  - name: crawler-co\n    jwk: {{kty: OKP, crv: Ed25519, x: '{x}'}}\n"
    )
    answer = client.put("/api/v1/policy", json={"yaml": policy}, headers=ADMIN)
    assert answer.status_code == 200, answer.text
    return key


def signed(
    key: Ed25519PrivateKey,
    *,
    covered: Sequence[str] = (),
    fields: dict[str, str] | None = None,
    created: int = NOW,
    expires: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    headers = _signing.sign(
        key,
        method="GET",
        authority="testserver",
        path=PATH,
        created=created,
        expires=created + 60 if expires is None else expires,
        nonce=nonce or secrets.token_hex(8),
        components=("@authority", "@method", "@path", *covered),
        fields=fields,
    )
    return {"user-agent": GPTBOT, **headers}


def test_a_price_added_to_a_signed_request_does_not_pay(
    client: TestClient, key: Ed25519PrivateKey
) -> None:
    for name, value in (("crawler-exact-price", "USD 0.01"), ("crawler-max-price", "USD 5")):
        # Intercepted: signed without a price, the price header added afterwards.
        added = client.get(PATH, headers={**signed(key), name: value})
        assert added.status_code == 402, added.text
        assert added.headers["x-visitor-class"] == "verified-agent"
        assert name in added.json()["detail"]
        assert "crawler-charged" not in added.headers
        # The same offer, covered by the signature: paid.
        paid = client.get(
            PATH, headers={**signed(key, covered=[name], fields={name: value}), name: value}
        )
        assert paid.status_code == 200, paid.text
        assert paid.headers["crawler-charged"] == "USD 0.01"
        # Covered, then changed in transit: the signature no longer verifies.
        tampered = client.get(
            PATH, headers={**signed(key, covered=[name], fields={name: value}), name: "USD 9"}
        )
        assert tampered.status_code == 402
        assert tampered.headers["x-visitor-class"] != "verified-agent"
    # Both headers sent, only one covered: the uncovered one could have been added; refused.
    both = signed(key, covered=["crawler-max-price"], fields={"crawler-max-price": "USD 5"})
    mixed = client.get(
        PATH, headers={**both, "crawler-max-price": "USD 5", "crawler-exact-price": "USD 0.01"}
    )
    assert mixed.status_code == 402
    assert "crawler-exact-price" in mixed.json()["detail"]


def test_a_replayed_request_is_not_verified_again(
    client: TestClient, key: Ed25519PrivateKey
) -> None:
    name, value = "crawler-exact-price", "USD 0.01"
    headers = {**signed(key, covered=[name], fields={name: value}), name: value}
    assert client.get(PATH, headers=headers).status_code == 200
    again = client.get(PATH, headers=headers)
    assert again.status_code == 402
    assert again.headers["x-visitor-class"] != "verified-agent"


@pytest.mark.parametrize(
    ("created", "expires", "verified"),
    [
        (NOW + SKEW, NOW + SKEW + 60, True),  # created in the future, at the limit
        (NOW + SKEW + 1, NOW + SKEW + 61, False),  # past it
        (NOW - 300, NOW - SKEW, True),  # expired, within the skew
        (NOW - 300, NOW - SKEW - 1, False),  # expired past the skew
        (NOW, NOW + 600, True),  # the longest validity allowed
        (NOW, NOW + 601, False),  # longer
        (NOW, NOW, False),  # expires when created
    ],
)
def test_clock_skew_and_validity_at_and_past_the_limits(
    client: TestClient, key: Ed25519PrivateKey, created: int, expires: int, verified: bool
) -> None:
    answer = client.get(PATH, headers=signed(key, created=created, expires=expires))
    assert (answer.headers["x-visitor-class"] == "verified-agent") is verified, answer.headers
    assert answer.status_code < 500


def test_header_lines_sent_twice_do_not_verify(client: TestClient, key: Ed25519PrivateKey) -> None:
    one = signed(key)
    two = signed(key, nonce="second")
    for name in ("Signature", "Signature-Input"):
        headers = [(k, v) for k, v in one.items()]
        headers.append((name, two[name]))
        answer = client.get(PATH, headers=headers)
        # Two lines make one label appear twice: the header does not parse, and is answered so.
        assert answer.status_code == 400, answer.text
        assert answer.json()["type"] == "/problems/signature-unparsable"
        assert answer.headers["x-visitor-class"] != "verified-agent"
    # A second Signature-Agent line beside a covered one is not a way to swap the directory.
    agent = "https://crawler.example/.well-known/http-message-signatures-directory"
    covered = _signing.sign(
        key,
        method="GET",
        authority="testserver",
        path=PATH,
        created=NOW,
        expires=NOW + 60,
        nonce=secrets.token_hex(8),
        components=("@authority", "@method", "@path", "signature-agent"),
        agent=agent,
    )
    lines = [
        ("user-agent", GPTBOT),
        *covered.items(),
        ("Signature-Agent", '"https://evil.example"'),
    ]
    answer = client.get(PATH, headers=lines)
    assert answer.status_code < 500
    assert answer.headers["x-visitor-class"] != "verified-agent"


def test_oversized_signature_headers_are_refused_not_parsed(
    client: TestClient, key: Ed25519PrivateKey
) -> None:
    base = signed(key)
    for name, size in (("Signature-Input", 5000), ("Signature", 5000), ("Signature-Agent", 2000)):
        headers = {**base, name: base.get(name, '"x"') + ";" + "a" * size}
        answer = client.get(PATH, headers=headers)
        assert answer.status_code == 400, (name, answer.status_code)
        assert f"{name} is too large" in answer.json()["detail"]
        assert answer.headers["x-visitor-class"] != "verified-agent"


# Structured-field-ish garbage: the characters RFC 8941 parsers trip over, in any order.
_SF_CHARS = string.ascii_letters + string.digits + '=;,:()"*-_./ \\?@%!<>[]{}|^~`' + "é\t"
_sf = st.text(alphabet=_SF_CHARS, max_size=200)


@settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(signature_input=_sf, signature=_sf, agent=st.none() | _sf)
def test_structured_field_garbage_never_crashes_or_verifies(
    client: TestClient,
    key: Ed25519PrivateKey,
    signature_input: str,
    signature: str,
    agent: str | None,
) -> None:
    headers = {"user-agent": GPTBOT, "Signature-Input": signature_input, "Signature": signature}
    if agent is not None:
        headers["Signature-Agent"] = agent
    # Sent as raw bytes (non-ASCII included); surrounding whitespace is stripped on the wire.
    raw = {k: v.strip().encode("latin-1", "replace") for k, v in headers.items()}
    answer = client.get(PATH, headers=raw)
    # 400 when the signature headers do not parse, else the policy's answer to the crawler.
    assert answer.status_code in (400, 402, 403), answer.text
    assert answer.headers["x-visitor-class"] != "verified-agent"
