"""An RFC 9421 signer written from the RFC with `cryptography` only, independent of the verifier."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Sequence
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def thumbprint(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def jwk(key: Ed25519PrivateKey, *, private: bool = False) -> dict[str, str]:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    out = {"kty": "OKP", "crv": "Ed25519", "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()}
    if private:
        d = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        out["d"] = base64.urlsafe_b64encode(d).rstrip(b"=").decode()
    return out


def sign(
    key: Ed25519PrivateKey,
    *,
    method: str,
    authority: str,
    path: str,
    created: int,
    expires: int | None,
    keyid: str | None = None,
    nonce: str | None = "nonce-1",
    tag: str | None = "web-bot-auth",
    alg: str | None = "ed25519",
    components: Sequence[str] = ("@authority", "@method", "@path"),
    agent: str | None = None,
    agent_header: str | None = None,
    label: str = "sig1",
    fields: dict[str, str] | None = None,
    scheme: str = "http",
    query: str = "",
) -> dict[str, str]:
    """Signature headers built by hand: the signature base of RFC 9421 §2.5, Ed25519 over it.

    `fields` are header values that `components` may name (e.g. "crawler-exact-price").
    `signature-agent` covers the whole header: `agent_header` as given, else the bare string
    `"{agent}"` (the legacy form); `signature-agent;key=K` covers member K of the dictionary
    `agent_header` (RFC 9421 §2.1.2: the member's serialized value, parameters included).
    """
    headers: dict[str, str] = {}
    target = f"{scheme}://{authority}{path}" + (f"?{query}" if query else "")
    values = {"@authority": authority, "@method": method, "@path": path, "@target-uri": target}
    values.update({k.lower(): v for k, v in (fields or {}).items()})
    lines = []
    ids = []
    for name in components:
        if name.startswith("signature-agent"):
            header = agent_header if agent_header is not None else f'"{agent}"'
            headers["Signature-Agent"] = header
            if ";key=" in name:
                member_key = name.split(";key=", 1)[1]
                ids.append(f'"signature-agent";key="{member_key}"')
                lines.append(f"{ids[-1]}: {member(header, member_key)}")
                continue
            values[name] = header
        ids.append(f'"{name}"')
        lines.append(f'"{name}": {values[name]}')
    params = f"({' '.join(ids)})"
    params += f";created={created}"
    if expires is not None:
        params += f";expires={expires}"
    params += f';keyid="{keyid or thumbprint(key)}"'
    if alg is not None:
        params += f';alg="{alg}"'
    if nonce is not None:
        params += f';nonce="{nonce}"'
    if tag is not None:
        params += f';tag="{tag}"'
    lines.append(f'"@signature-params": {params}')
    base = "\n".join(lines).encode()
    signature = base64.b64encode(key.sign(base)).decode()
    headers["Signature-Input"] = f"{label}={params}"
    headers["Signature"] = f"{label}=:{signature}:"
    return headers


def member(dictionary: str, key: str) -> str:
    """One member's serialized value from a simple structured-field dictionary (no commas in it)."""
    for part in dictionary.split(","):
        name, _, value = part.strip().partition("=")
        if name == key:
            return value
    raise KeyError(key)


def register_partner(client: Any, admin_headers: dict[str, str], name: str = "acme") -> Any:
    """A key registered through the partner registry, as an agent developer would have it."""
    key = Ed25519PrivateKey.generate()
    answer = client.post(
        "/api/v1/partners", json={"name": name, "jwk": jwk(key)}, headers=admin_headers
    )
    assert answer.status_code == 201, answer.text
    return key


def sign_now(
    key: Ed25519PrivateKey, *, path: str, now: int, method: str = "GET", **kwargs: Any
) -> dict[str, str]:
    """Signature headers for one request to the test client's host, valid for a minute."""
    args: dict[str, Any] = {
        "method": method,
        "authority": "testserver",
        "path": path,
        "created": now,
        "expires": now + 60,
        "nonce": secrets.token_urlsafe(64),
    }
    args.update(kwargs)
    return sign(key, **args)
