"""RFC 9421 plumbing that signing and verifying share: the Web Bot Auth constants, the request
view `http-message-signatures` reads components from, and the one key it is handed."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from collections.abc import Iterable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from http_message_signatures import HTTPSignatureAlgorithm, HTTPSignatureKeyResolver
from http_message_signatures.exceptions import HTTPMessageSignaturesException, InvalidSignature
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

TAG = "web-bot-auth"
ALGORITHM = "ed25519"
SIGNATURE_LABEL = "sig1"
# Real Web Bot Auth headers are a few hundred bytes; the caps stop parser abuse, not honest agents.
MAX_SIGNATURE_HEADER_BYTES = 4096
MAX_SIGNATURE_AGENT_BYTES = 1024
# Signatures of one request validated independently (one per signer on the path is plenty).
MAX_SIGNATURES = 4
# Random bytes in a nonce, as the Web Bot Auth drafts recommend (sent in base64url).
NONCE_BYTES = 64
# Components an honest agent signs; @authority binds the signature to this host.
DEFAULT_COVERED = ("@authority", "@method", "@path")


class Message:
    """The minimal request view the library resolves components from."""

    def __init__(self, method: str, url: str, headers: Iterable[tuple[str, str]] = ()) -> None:
        self.method = method
        self.url = url
        self.headers = FieldLines(list(headers))


class ResponseMessage:
    """A response view; the library tells it from a request by its `status_code`."""

    def __init__(self, status_code: int, request: Message) -> None:
        self.status_code = status_code
        self.request = request
        self.headers = FieldLines([])


class FieldLines:
    """Ordered field lines; writable so the same view serves the signer."""

    def __init__(self, lines: list[tuple[str, str]]) -> None:
        self._lines = lines

    def items(self) -> list[tuple[str, str]]:
        return list(self._lines)

    def __iter__(self) -> Any:
        return iter(dict.fromkeys(name for name, _ in self._lines))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(n.lower() == name.lower() for n, _ in self._lines)

    def __getitem__(self, name: str) -> str:
        values = [v for n, v in self._lines if n.lower() == name.lower()]
        if not values:
            raise KeyError(name)
        return ", ".join(values)

    def __setitem__(self, name: str, value: str) -> None:
        self._lines.append((name, value))

    def __delitem__(self, name: str) -> None:
        self._lines = [(n, v) for n, v in self._lines if n.lower() != name.lower()]


class OneKey(HTTPSignatureKeyResolver):
    """The one key the library may use: a public key to verify with, or a private key to sign.

    `keyid` is the key the caller already looked up; any other keyid resolves to nothing.
    """

    def __init__(
        self,
        keyid: str,
        *,
        public_key: Ed25519PublicKey | None = None,
        private_key: Ed25519PrivateKey | None = None,
        verify_key: VerifyKey | None = None,
    ) -> None:
        self.keyid = keyid
        self.private_key = private_key
        self.public_key = public_key or (private_key.public_key() if private_key else None)
        self.verify_key = verify_key

    def __repr__(self) -> str:  # the private key stays out of logs and tracebacks
        return f"OneKey(keyid={self.keyid!r})"

    def resolve_public_key(self, key_id: str) -> Any:
        if key_id != self.keyid:
            return None
        return self.verify_key if self.verify_key is not None else self.public_key

    def resolve_private_key(self, key_id: str) -> Any:
        if self.private_key is None or key_id != self.keyid:
            raise HTTPMessageSignaturesException("no private key for this keyid")
        return self.private_key


class SodiumEd25519(HTTPSignatureAlgorithm):
    """Ed25519 verification through libsodium (PyNaCl), for the library's per-signature step.

    The public key is a `nacl.signing.VerifyKey`; signing stays with `cryptography` (sign.py).
    """

    algorithm_id = ALGORITHM

    def __init__(self, public_key: Any = None, private_key: Any = None) -> None:
        if not isinstance(public_key, VerifyKey) or private_key is not None:
            raise HTTPMessageSignaturesException("SodiumEd25519 only verifies, with a VerifyKey")
        self.public_key = public_key

    def sign(self, message: bytes) -> bytes:
        raise HTTPMessageSignaturesException("SodiumEd25519 only verifies")

    def verify(self, signature: bytes, message: bytes) -> None:
        try:
            self.public_key.verify(message, signature)
        except (BadSignatureError, ValueError, TypeError):
            # No message, as with `cryptography`: "does not match" says it all.
            raise InvalidSignature() from None


def new_nonce() -> str:
    """A fresh nonce: NONCE_BYTES random bytes in unpadded base64url."""
    return base64.urlsafe_b64encode(secrets.token_bytes(NONCE_BYTES)).rstrip(b"=").decode("ascii")


def timestamp(now: dt.datetime | float) -> float:
    return now.timestamp() if isinstance(now, dt.datetime) else float(now)
