"""The platform's Ed25519 signing key, JWK helpers and the keyring signatures are checked against.

The private key lives in one PEM file in the data folder (mode 0600). It is never served, logged or
put in a JWK; only its public half is published at the key directory.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import logging
import os
import secrets
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from nacl.signing import VerifyKey

from marketplace.gate.published_keys import published_test_key, refusal

log = logging.getLogger(__name__)

PLATFORM_OWNER = "platform"
DIRECTORY_PATH = "/.well-known/http-message-signatures-directory"
DIRECTORY_MEDIA_TYPE = "application/http-message-signatures-directory+json"


class JWKError(ValueError):
    """A JWK that is not a usable Ed25519 public key; the message says what to change."""


class PublishedKeyError(JWKError):
    """A key printed in a specification (RFC 9421, RFC 8037): never a partner's proof."""


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict base64url without padding (RFC 7515 §2), as JWKs carry it."""
    if not isinstance(text, str) or "=" in text or any(c in text for c in "+/ \n\r\t"):
        raise ValueError("not unpadded base64url")
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.b64decode(padded, altchars=b"-_", validate=True)
    except binascii.Error as exc:
        raise ValueError("not unpadded base64url") from exc


# --- The platform key ---------------------------------------------------------------------


def load_or_create_platform_key(path: Path) -> Ed25519PrivateKey:
    """The platform's private key from `path`, created (mode 0600) on the first start."""
    path = Path(path)
    if not path.exists():
        _create_key_file(path)
    _tighten_mode(path)
    data = path.read_bytes()
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        # The message names the file but never echoes its content.
        raise RuntimeError(
            f"The signing key file {path} is not an unencrypted PEM private key; move it away to "
            "have a new key generated, or point SANDBOX_SIGNING_KEY_FILE at the right file."
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise RuntimeError(
            f"The signing key file {path} holds a {type(key).__name__}; Web Bot Auth here needs "
            "an Ed25519 key (openssl genpkey -algorithm ed25519)."
        )
    return key


def _create_key_file(path: Path) -> None:
    """Write a new key so that concurrent workers starting together end up with the same one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        # link() fails when another worker got there first; then its key is the key.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
            log.info("generated the platform signing key at %s", path)
    finally:
        tmp.unlink(missing_ok=True)


def _tighten_mode(path: Path) -> None:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        try:
            path.chmod(0o600)
            log.warning("the signing key file %s was readable by others; set it to 0600", path)
        except OSError:
            log.warning("the signing key file %s is readable by others (mode %o)", path, mode)


# --- JWKs ---------------------------------------------------------------------------------


def public_jwk(public_key: Ed25519PublicKey) -> dict[str, str]:
    """The OKP/Ed25519 JWK of a public key (RFC 8037), with its thumbprint as `kid`."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)}
    jwk["kid"] = jwk_thumbprint(jwk)
    return jwk


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 thumbprint: base64url SHA-256 of the required members in canonical JSON."""
    kty = jwk.get("kty")
    if kty == "OKP":
        members = {"crv": jwk.get("crv"), "kty": kty, "x": jwk.get("x")}
    elif kty == "EC":
        members = {"crv": jwk.get("crv"), "kty": kty, "x": jwk.get("x"), "y": jwk.get("y")}
    elif kty == "RSA":
        members = {"e": jwk.get("e"), "kty": kty, "n": jwk.get("n")}
    else:
        raise JWKError(f"Unknown key type kty={kty!r}; use an OKP (Ed25519) key.")
    if not all(isinstance(v, str) for v in members.values()):
        raise JWKError("A JWK thumbprint needs every required member as a string.")
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return b64url_encode(hashlib.sha256(canonical.encode("utf-8")).digest())


def parse_public_jwk(jwk: Any) -> Ed25519PublicKey:
    """An Ed25519 public key from a JWK, refusing anything else with a sentence that says why."""
    if not isinstance(jwk, Mapping):
        raise JWKError('A JWK must be a JSON object such as {"kty": "OKP", ...}.')
    if "d" in jwk:
        raise JWKError(
            "This JWK contains the private key (member 'd'). Never send a private key: send only "
            "the public key (kty, crv, x) and keep 'd' on your side."
        )
    if jwk.get("kty") != "OKP":
        raise JWKError(f"kty must be 'OKP' for an Ed25519 key, not {jwk.get('kty')!r}.")
    if jwk.get("crv") != "Ed25519":
        raise JWKError(f"crv must be 'Ed25519', not {jwk.get('crv')!r}.")
    x = jwk.get("x")
    try:
        raw = b64url_decode(x) if isinstance(x, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise JWKError("x must be the 32-byte Ed25519 public key in unpadded base64url.")
    if "use" in jwk and jwk["use"] != "sig":
        raise JWKError("use must be 'sig' (or left out) for a signing key.")
    where = published_test_key(x)
    if where is not None:
        raise PublishedKeyError(refusal(where))
    return Ed25519PublicKey.from_public_bytes(raw)


def public_jwks(public_keys: Iterable[Ed25519PublicKey]) -> dict[str, list[dict[str, str]]]:
    return {"keys": [public_jwk(key) for key in public_keys]}


# --- The keyring --------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyEntry:
    """A verification key and who holds the matching private key."""

    keyid: str
    public_key: Ed25519PublicKey
    owner: str  # "platform" or a partner's name
    # The same key for libsodium, which verifies Ed25519 in about half the time `cryptography`
    # takes (docs/benchmarks.md); made once per keyring, not per request.
    verify_key: VerifyKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        raw = self.public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        object.__setattr__(self, "verify_key", VerifyKey(raw))


class Keyring(Mapping[str, KeyEntry]):
    """Keyid (JWK thumbprint) → key and owner; immutable, rebuilt when the registry changes."""

    def __init__(self, entries: Iterable[KeyEntry] = ()) -> None:
        self._entries: dict[str, KeyEntry] = {}
        for entry in entries:
            # The platform's own key can never be claimed by a partner registration.
            existing = self._entries.get(entry.keyid)
            if existing is not None and existing.owner == PLATFORM_OWNER:
                continue
            self._entries[entry.keyid] = entry

    @classmethod
    def build(
        cls,
        platform_key: Ed25519PublicKey | None,
        partners: Iterable[tuple[str, Mapping[str, Any]]] = (),
    ) -> Keyring:
        """A keyring of the platform key plus (partner name, public JWK) pairs."""
        entries: list[KeyEntry] = []
        if platform_key is not None:
            keyid = jwk_thumbprint(public_jwk(platform_key))
            entries.append(KeyEntry(keyid, platform_key, PLATFORM_OWNER))
        for name, jwk in partners:
            try:
                key = parse_public_jwk(jwk)
            except JWKError as exc:
                log.warning("ignoring partner %s key: %s", name, exc)
                continue
            entries.append(KeyEntry(jwk_thumbprint(jwk), key, name))
        return cls(entries)

    def __getitem__(self, keyid: str) -> KeyEntry:
        return self._entries[keyid]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def owner_of(self, keyid: str) -> str | None:
        entry = self._entries.get(keyid)
        return entry.owner if entry else None


def platform_keyid(private_key: Ed25519PrivateKey) -> str:
    """The keyid under which the platform signs: the thumbprint of its public JWK."""
    return jwk_thumbprint(public_jwk(private_key.public_key()))
