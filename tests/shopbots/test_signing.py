"""Web Bot Auth signing, checked by rebuilding the RFC 9421 signature base independently."""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from shopbots.signing import WebBotAuthSigner, jwk_thumbprint


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def independent_base(request: httpx.Request) -> tuple[str, bytes, str]:
    """The signature base per RFC 9421 section 2.5, from the raw header text, with no library."""
    sig_input = request.headers["signature-input"]
    label, _, params = sig_input.partition("=")
    components = re.findall(r'"([^"]+)"((?:;[a-z]+="[^"]*")*)', params[: params.index(")") + 1])
    lines = []
    for name, component_params in components:
        if name == "@authority":
            value = request.url.netloc.decode().lower()
        elif name == "signature-agent" and component_params:
            key = re.search(r'key="([^"]+)"', component_params)
            assert key is not None
            member = dict(part.strip().split("=", 1) for part in request.headers[name].split(","))[
                key.group(1)
            ]
            value = member
        else:
            value = request.headers[name].strip()
        lines.append(f'"{name}"{component_params}: {value}')
    lines.append(f'"@signature-params": {params}')
    signature = request.headers["signature"]
    assert signature.startswith(f"{label}=:")
    assert signature.endswith(":")
    raw = base64.b64decode(signature[len(label) + 2 : -1])
    return "\n".join(lines), raw, params


def test_rfc8037_thumbprint_vector() -> None:
    # RFC 8037 appendix A.3: the thumbprint of its Ed25519 example key.
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    assert jwk_thumbprint(jwk) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_signature_verifies_against_an_independent_base() -> None:
    signer = WebBotAuthSigner(signature_agent="https://agent.example/.well-known/keys")
    request = httpx.Request("GET", "http://127.0.0.1:8123/api/v1/products?q=tent")
    signer.sign(request)

    base, raw, params = independent_base(request)
    public = Ed25519PublicKey.from_public_bytes(b64url_decode(signer.jwk["x"]))
    public.verify(raw, base.encode())  # raises InvalidSignature on mismatch

    assert '"@authority"' in params
    assert '"signature-agent";key="sig1"' in params
    assert 'tag="web-bot-auth"' in params
    assert f'keyid="{jwk_thumbprint(signer.jwk)}"' in params
    created = int(re.search(r"created=(\d+)", params).group(1))  # type: ignore[union-attr]
    expires = int(re.search(r"expires=(\d+)", params).group(1))  # type: ignore[union-attr]
    assert abs(created - time.time()) < 5
    assert 0 < expires - created <= 300
    assert re.search(r'nonce="[A-Za-z0-9_-]{20,}"', params)
    assert request.headers["signature-agent"] == 'sig1="https://agent.example/.well-known/keys"'


def test_tampered_authority_no_longer_verifies() -> None:
    signer = WebBotAuthSigner()
    request = httpx.Request("GET", "http://127.0.0.1:8123/")
    signer.sign(request)
    moved = httpx.Request("GET", "http://127.0.0.1:9999/", headers=request.headers)
    base, raw, _ = independent_base(moved)
    public = Ed25519PublicKey.from_public_bytes(b64url_decode(signer.jwk["x"]))
    with pytest.raises(InvalidSignature):
        public.verify(raw, base.encode())


def test_price_header_is_covered_and_nonces_differ() -> None:
    signer = WebBotAuthSigner()
    first = httpx.Request("GET", "http://h.test/p", headers={"crawler-exact-price": "USD 0.01"})
    second = httpx.Request("GET", "http://h.test/p")
    signer.sign(first)
    signer.sign(second)
    assert '"crawler-exact-price"' in first.headers["signature-input"]
    base, raw, _ = independent_base(first)
    assert '"crawler-exact-price": USD 0.01' in base
    signer.public_key.verify(raw, base.encode())
    nonce = re.compile(r'nonce="([^"]+)"')
    assert nonce.search(first.headers["signature-input"]).group(1) != nonce.search(  # type: ignore[union-attr]
        second.headers["signature-input"]
    ).group(1)  # type: ignore[union-attr]


def test_every_request_through_the_auth_hook_is_signed() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/start":
            return httpx.Response(303, headers={"location": "/next"})
        return httpx.Response(200)

    signer = WebBotAuthSigner()
    with httpx.Client(
        transport=httpx.MockTransport(handler), auth=signer.auth(), follow_redirects=True
    ) as client:
        client.get("http://shop.test/start")
    assert [r.url.path for r in seen] == ["/start", "/next"]
    for request in seen:
        base, raw, _ = independent_base(request)
        signer.public_key.verify(raw, base.encode())


def test_key_file_round_trip_and_directory(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "agent.pem"
    first = WebBotAuthSigner.load_or_create(path)
    again = WebBotAuthSigner.load_or_create(path)
    assert first.keyid == again.keyid
    assert path.stat().st_mode & 0o777 == 0o600
    directory = first.key_directory()
    assert directory["keys"][0]["kid"] == first.keyid
    assert directory["keys"][0]["crv"] == "Ed25519"
    ec_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ValueError, match="Ed25519"):
        WebBotAuthSigner.from_pem(ec_key)


def test_key_directory_is_served(tmp_path: Path) -> None:
    from shopbots.signing import KEY_DIRECTORY_PATH, serve_key_directory

    signer = WebBotAuthSigner()
    server = serve_key_directory(signer)
    try:
        host, port = server.server_address[:2]
        response = httpx.get(f"http://{host!s}:{port}{KEY_DIRECTORY_PATH}")
        assert response.json()["keys"][0]["x"] == signer.jwk["x"]
    finally:
        server.shutdown()
