"""Web Bot Auth verification against a signer written independently from RFC 9421."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from marketplace.gate.facts import RequestFacts
from marketplace.gate.identity.keys import KeyEntry, Keyring, platform_keyid
from marketplace.gate.identity.sign import sign_request
from marketplace.gate.identity.verify import SignatureCheck, verify_signature
from tests.marketplace.gate._signing import sign, thumbprint

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
T = int(NOW.timestamp())
SKEW = 60
VALIDITY = 300
HOST = "shop.test"


class MemoryNonces:
    def __init__(self) -> None:
        self.seen: set[str] = set()

    def nonce_seen(self, key: str, ttl_s: float) -> bool:
        if key in self.seen:
            return True
        self.seen.add(key)
        return False


@pytest.fixture
def partner_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def keyring(partner_key: Ed25519PrivateKey) -> Keyring:
    return Keyring([KeyEntry(thumbprint(partner_key), partner_key.public_key(), "acme")])


def facts(
    headers: dict[str, str],
    *,
    method: str = "GET",
    authority: str = HOST,
    path: str = "/api/v1/products",
    query: str = "",
) -> RequestFacts:
    return RequestFacts(
        method=method,
        path=path,
        raw_path=path,
        query=query,
        authority=authority,
        scheme="http",
        headers=tuple((k.lower(), v) for k, v in headers.items()),
        client_ip="127.0.0.1",
        session_id=None,
        route_class="catalog",
        is_asset=False,
    )


def check(
    f: RequestFacts, keyring: Keyring, nonces: MemoryNonces | None = None, now: dt.datetime = NOW
) -> SignatureCheck:
    return verify_signature(
        f,
        keyring=keyring,
        state=nonces or MemoryNonces(),
        now=now,
        max_skew_s=SKEW,
        max_validity_s=VALIDITY,
    )


def signed(key: Ed25519PrivateKey, **kwargs: object) -> dict[str, str]:
    args: dict[str, object] = {
        "method": "GET",
        "authority": HOST,
        "path": "/api/v1/products",
        "created": T,
        "expires": T + 60,
    }
    args.update(kwargs)
    return sign(key, **args)  # type: ignore[arg-type]


def test_independently_signed_request_is_valid(partner_key, keyring):
    result = check(facts(signed(partner_key)), keyring)
    assert result.status == "valid", result.reason
    assert result.owner == "acme"
    assert result.keyid == thumbprint(partner_key)
    assert result.params["tag"] == "web-bot-auth"
    assert result.covered == ("@authority", "@method", "@path")
    assert result.covers("@authority")
    assert not result.covers("crawler-exact-price")


def test_unsigned_request_is_absent(keyring):
    result = check(facts({"user-agent": "curl/8"}), keyring)
    assert result.status == "absent"


def test_replayed_signature_is_refused(partner_key, keyring):
    nonces = MemoryNonces()
    headers = signed(partner_key)
    assert check(facts(headers), keyring, nonces).status == "valid"
    again = check(facts(headers), keyring, nonces)
    assert again.status == "invalid"
    assert "already used" in again.reason


def test_same_nonce_on_another_request_is_refused(partner_key, keyring):
    nonces = MemoryNonces()
    assert check(facts(signed(partner_key, nonce="n-7")), keyring, nonces).valid
    other = signed(partner_key, nonce="n-7", path="/api/v1/categories")
    assert check(facts(other, path="/api/v1/categories"), keyring, nonces).status == "invalid"


def test_signature_without_nonce_cannot_be_replayed(partner_key, keyring):
    nonces = MemoryNonces()
    headers = signed(partner_key, nonce=None)
    assert check(facts(headers), keyring, nonces).valid
    assert check(facts(headers), keyring, nonces).status == "invalid"


def test_expired_signature_is_refused(partner_key, keyring):
    headers = signed(partner_key, created=T - 200, expires=T - SKEW - 1)
    result = check(facts(headers), keyring)
    assert result.status == "invalid"
    assert "expired" in result.reason


def test_expiry_within_skew_is_accepted(partner_key, keyring):
    headers = signed(partner_key, created=T - 200, expires=T - SKEW)
    assert check(facts(headers), keyring).valid


@pytest.mark.parametrize(("offset", "valid"), [(SKEW, True), (SKEW + 1, False)])
def test_created_in_the_future_at_and_past_the_skew(partner_key, keyring, offset, valid):
    headers = signed(partner_key, created=T + offset, expires=T + offset + 60)
    result = check(facts(headers), keyring)
    assert result.valid is valid, result.reason
    if not valid:
        assert "future" in result.reason


def test_validity_window_is_bounded(partner_key, keyring):
    assert check(facts(signed(partner_key, expires=T + VALIDITY)), keyring).valid
    result = check(facts(signed(partner_key, expires=T + VALIDITY + 1)), keyring)
    assert result.status == "invalid"
    assert "at most" in result.reason


def test_created_and_expires_are_required(partner_key, keyring):
    result = check(facts(signed(partner_key, expires=None)), keyring)
    assert result.status == "invalid"
    assert "expires" in result.reason


def test_unknown_key_is_refused(keyring):
    stranger = Ed25519PrivateKey.generate()
    result = check(facts(signed(stranger)), keyring)
    assert result.status == "invalid"
    assert "unknown" in result.reason
    assert result.owner is None


def test_key_claiming_a_known_keyid_is_refused(partner_key, keyring):
    impostor = Ed25519PrivateKey.generate()
    result = check(facts(signed(impostor, keyid=thumbprint(partner_key))), keyring)
    assert result.status == "invalid"
    assert "does not match" in result.reason


def test_tampered_authority_is_refused(partner_key, keyring):
    headers = signed(partner_key, authority="partner-site.test")
    result = check(facts(headers, authority=HOST), keyring)
    assert result.status == "invalid"


def test_tampered_path_and_method_are_refused(partner_key, keyring):
    headers = signed(partner_key)
    assert check(facts(headers, path="/api/v1/orders"), keyring).status == "invalid"
    assert check(facts(headers, method="POST"), keyring).status == "invalid"


def test_authority_must_be_covered(partner_key, keyring):
    result = check(facts(signed(partner_key, components=("@method", "@path"))), keyring)
    assert result.status == "invalid"
    assert "@authority" in result.reason


def test_signature_agent_must_be_covered_when_sent(partner_key, keyring):
    headers = signed(partner_key)
    headers["Signature-Agent"] = '"https://agent.test"'
    result = check(facts(headers), keyring)
    assert result.status == "invalid"
    assert "signature-agent" in result.reason


def test_covered_signature_agent_is_reported(partner_key, keyring):
    headers = signed(
        partner_key,
        components=("@authority", "signature-agent"),
        agent="https://agent.test",
    )
    result = check(facts(headers), keyring)
    assert result.valid, result.reason
    assert result.agent == "https://agent.test"


def test_signature_agent_changed_after_signing_is_refused(partner_key, keyring):
    headers = signed(
        partner_key, components=("@authority", "signature-agent"), agent="https://agent.test"
    )
    headers["Signature-Agent"] = '"https://other.test"'
    assert check(facts(headers), keyring).status == "invalid"


def test_missing_covered_header_is_refused(partner_key, keyring):
    headers = signed(
        partner_key, components=("@authority", "signature-agent"), agent="https://agent.test"
    )
    del headers["Signature-Agent"]
    result = check(facts(headers), keyring)
    assert result.status == "invalid"


def test_wrong_tag_is_refused(partner_key, keyring):
    result = check(facts(signed(partner_key, tag="something-else")), keyring)
    assert result.status == "invalid"
    assert "web-bot-auth" in result.reason


@pytest.mark.parametrize("alg", ["rsa-pss-sha512", "hmac-sha256", "ecdsa-p256-sha256"])
def test_wrong_algorithm_is_refused(partner_key, keyring, alg):
    result = check(facts(signed(partner_key, alg=alg)), keyring)
    assert result.status == "invalid"
    assert "Algorithm" in result.reason


@pytest.mark.parametrize(
    "value",
    [
        "sig1=(",
        'sig1=("@authority";created=abc',
        "not a dictionary ((",
        'sig1="just a string"',
        'sig1=("@authority");created=1;keyid=2',
        "ünïcode=()",
    ],
)
def test_malformed_signature_input_is_invalid_not_an_error(partner_key, keyring, value):
    headers = signed(partner_key)
    headers["Signature-Input"] = value
    result = check(facts(headers), keyring)
    assert result.status == "invalid"
    assert result.reason


def test_malformed_signature_is_invalid(partner_key, keyring):
    headers = signed(partner_key)
    headers["Signature"] = "sig1=:not base64!:"
    assert check(facts(headers), keyring).status == "invalid"
    headers["Signature"] = 'sig1="a string"'
    assert check(facts(headers), keyring).status == "invalid"


def test_only_one_of_the_headers_is_invalid(partner_key, keyring):
    headers = signed(partner_key)
    del headers["Signature"]
    result = check(facts(headers), keyring)
    assert result.status == "invalid"
    assert "Signature header is missing" in result.reason


def test_oversized_headers_are_refused(partner_key, keyring):
    headers = signed(partner_key)
    headers["Signature-Input"] += ";" + ";".join(f"x{i}=1" for i in range(2000))
    result = check(facts(headers), keyring)
    assert result.status == "invalid"
    assert "too large" in result.reason
    assert "4096 bytes" in result.reason


def test_signature_agent_over_its_limit_cites_its_own_limit(partner_key, keyring):
    headers = signed(
        partner_key,
        components=("@authority", "signature-agent"),
        agent="https://agent.test/" + "a" * 1100,
    )
    result = check(facts(headers), keyring)
    assert (result.status, result.code) == ("invalid", "malformed")
    assert "1024 bytes" in result.reason
    assert "4096" not in result.reason


def test_sign_request_round_trip_with_the_platform_key():
    key = Ed25519PrivateKey.generate()
    ring = Keyring.build(key.public_key())
    headers = sign_request(
        "POST",
        f"http://{HOST}/api/v1/orders?x=1",
        {"content-type": "application/json"},
        private_key=key,
        keyid=platform_keyid(key),
        now=NOW,
        nonce="abc123",
        signature_agent="https://nile.test",
    )
    assert set(headers) == {"Signature", "Signature-Input", "Signature-Agent"}
    assert 'tag="web-bot-auth"' in headers["Signature-Input"]
    f = facts(headers, method="POST", path="/api/v1/orders", query="x=1")
    result = check(f, ring)
    assert result.valid, result.reason
    assert result.owner == "platform"
    assert result.agent == "https://nile.test"
    assert result.params["expires"] - result.params["created"] == 60


def test_sign_request_is_verifiable_by_an_independent_base(partner_key):
    """The helper's output checked by hand: rebuild the base from Signature-Input, verify."""
    import base64

    headers = sign_request(
        "GET",
        f"https://{HOST}/p/1",
        None,
        private_key=partner_key,
        keyid=thumbprint(partner_key),
        now=NOW,
        nonce="n",
    )
    params = headers["Signature-Input"].split("=", 1)[1]
    base = (
        f'"@authority": {HOST}\n"@method": GET\n"@path": /p/1\n"@signature-params": {params}'
    ).encode()
    sig = base64.b64decode(headers["Signature"].split(":")[1])
    partner_key.public_key().verify(sig, base)  # raises when the helper is wrong


def test_verifier_never_raises_on_garbage(partner_key, keyring):
    for value in ["", ",", "=", "sig1=:" + "A" * 100 + ":", "sig1=?1", "sig1=();tag=1"]:
        headers = {"Signature-Input": value, "Signature": value}
        assert check(facts(headers), keyring).status == "invalid"


def test_request_signer_signs_what_httpx_sends(tmp_path):
    import httpx

    from marketplace.core.clock import FrozenClock
    from marketplace.gate.identity.sign import RequestSigner

    signer = RequestSigner.for_platform(tmp_path / "key.pem", clock=FrozenClock(NOW))
    assert "PRIVATE" not in repr(signer)
    ring = Keyring.build(signer.private_key.public_key())
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    with httpx.Client(transport=httpx.MockTransport(handler), auth=signer) as client:
        client.post(f"http://{HOST}/api/v1/orders?a=b%20c", json={"x": 1})
    request = seen[0]
    f = RequestFacts(
        method=request.method,
        path=request.url.path,
        raw_path=request.url.raw_path.decode().split("?")[0],
        query=request.url.query.decode(),
        authority=request.headers["host"],
        scheme="http",
        headers=tuple((k.lower(), v) for k, v in request.headers.items()),
        client_ip=None,
        session_id=None,
        route_class="checkout",
        is_asset=False,
    )
    result = check(f, ring)
    assert result.valid, result.reason
    assert result.owner == "platform"


def test_signature_labels_must_match_the_inputs(partner_key, keyring):
    headers = signed(partner_key)
    headers["Signature"] += ", other=:AAAA:"
    result = check(facts(headers), keyring)
    assert result.status == "invalid"
    assert "same labels" in result.reason


def test_a_label_sent_twice_is_refused_not_overwritten(partner_key, keyring):
    """RFC 8941 would keep the last member; a second header line must not swap the signature."""
    one = signed(partner_key)
    two = signed(partner_key, nonce="other")
    for name in ("Signature-Input", "Signature"):
        headers = dict(one)
        headers[name] = f"{one[name]}, {two[name]}"
        result = check(facts(headers), keyring)
        assert result.status == "invalid"
        assert "one member per label" in result.reason
