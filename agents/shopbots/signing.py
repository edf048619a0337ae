"""Web Bot Auth: RFC 9421 HTTP Message Signatures with Ed25519, as outside agents send them.

Each signature covers `@authority` (and the `Signature-Agent` member and any pay-per-crawl header
that is sent), carries `created`, `expires`, a fresh 64-byte `nonce`, `keyid` = the RFC 7638 JWK
thumbprint and `tag="web-bot-auth"`. `Signature-Agent` is sent in the dictionary form of the IETF
draft (`sig1="https://..."`). Signing is done by the `http-message-signatures` library, so the
platform's verifier is checked against code it does not share.

Sign each request as it leaves, redirects included: `signer.sign` is an httpx request hook
(`httpx.Client(event_hooks={"request": [signer.sign]}, follow_redirects=True)`), which httpx calls
for every hop. As `auth=` (`signer.auth()`) it signs only the request it is handed, and httpx would
resend that signature on a redirect it follows; `shopbots.client.AgentClient` therefore follows
redirects itself, one signed hop at a time.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import secrets
import threading
from collections.abc import Generator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from http_message_signatures import HTTPMessageSigner, MappingKeyResolver, algorithms

TAG = "web-bot-auth"
LABEL = "sig1"
# Random bytes per nonce, as the Web Bot Auth drafts recommend.
NONCE_BYTES = 64
KEY_DIRECTORY_PATH = "/.well-known/http-message-signatures-directory"
KEY_DIRECTORY_MEDIA_TYPE = "application/http-message-signatures-directory+json"
# Headers that, when a request carries them, must be signed too: a price the agent accepts is only
# binding if it is covered by the signature.
OPTIONAL_COVERED = ("signature-agent", "crawler-exact-price", "crawler-max-price")


def b64url(data: bytes) -> str:
    """Base64url without padding, as JWK and RFC 7638 use it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_jwk(public_key: Ed25519PublicKey) -> dict[str, str]:
    """The OKP JWK of an Ed25519 public key (only the members RFC 7638 hashes)."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint: SHA-256 over the required members, sorted, without whitespace."""
    required = {name: jwk[name] for name in ("crv", "kty", "x")}
    canonical = json.dumps(required, sort_keys=True, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


class WebBotAuthSigner:
    """An agent's Ed25519 key, its JWK and key directory, and the signing of its requests."""

    def __init__(
        self,
        private_key: Ed25519PrivateKey | None = None,
        *,
        signature_agent: str | None = None,
        validity_s: int = 60,
    ) -> None:
        self.private_key = private_key or Ed25519PrivateKey.generate()
        self.public_key = self.private_key.public_key()
        self.jwk = public_jwk(self.public_key)
        self.keyid = jwk_thumbprint(self.jwk)
        # Where the agent says its key directory lives; sent in `Signature-Agent` and signed.
        self.signature_agent = signature_agent
        self.validity_s = validity_s
        self._signer = HTTPMessageSigner(
            signature_algorithm=algorithms.ED25519,
            key_resolver=MappingKeyResolver(
                public_keys={self.keyid: self.public_key},
                private_keys={self.keyid: self.private_key},
            ),
        )

    # --- keys --------------------------------------------------------------------------------

    @classmethod
    def load_or_create(cls, path: Path, **kwargs: Any) -> WebBotAuthSigner:
        """The key in `path` (PEM, PKCS#8), created there with mode 0600 when missing."""
        if path.exists():
            return cls.from_pem(path.read_bytes(), **kwargs)
        signer = cls(**kwargs)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(signer.private_pem())
        return signer

    @classmethod
    def from_pem(cls, pem: bytes, **kwargs: Any) -> WebBotAuthSigner:
        """A signer for an Ed25519 private key in PEM form."""
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the key file must hold an Ed25519 private key (PEM, PKCS#8)")
        return cls(key, **kwargs)

    def private_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def key_directory(self) -> dict[str, list[dict[str, str]]]:
        """The JWKS this agent publishes (or hands to a platform's partner registry)."""
        return {"keys": [{**self.jwk, "kid": self.keyid, "alg": "EdDSA", "use": "sig"}]}

    # --- signing -----------------------------------------------------------------------------

    def sign(self, request: httpx.Request, *, now: dt.datetime | None = None) -> None:
        """Add `Signature-Agent` (when set), `Signature-Input` and `Signature` to `request`.

        A signature an earlier hop carried is replaced, with a new nonce.
        """
        if self.signature_agent and "signature-agent" not in request.headers:
            # The current draft's dictionary form: the member named by the label is signed.
            request.headers["signature-agent"] = f'{LABEL}="{self.signature_agent}"'
        created = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
        covered = ["@authority"]
        for name in OPTIONAL_COVERED:
            if name not in request.headers:
                continue
            if name == "signature-agent" and request.headers[name].startswith(f"{LABEL}="):
                covered.append(f'"signature-agent";key="{LABEL}"')
            else:
                covered.append(name)
        self._signer.sign(
            request,
            key_id=self.keyid,
            created=created,
            expires=created + dt.timedelta(seconds=self.validity_s),
            nonce=b64url(secrets.token_bytes(NONCE_BYTES)),
            label=LABEL,
            tag=TAG,
            covered_component_ids=covered,
        )

    def auth(self) -> WebBotAuth:
        """An httpx auth that signs the request it is handed (see the module docstring)."""
        return WebBotAuth(self)


class WebBotAuth(httpx.Auth):
    """Signs a request as it leaves, after httpx has merged every header into it.

    httpx runs an auth once per request it is asked to send, not once per redirect it follows:
    send each hop yourself (as AgentClient does) or use `signer.sign` as a request hook.
    """

    def __init__(self, signer: WebBotAuthSigner) -> None:
        self.signer = signer

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.signer.sign(request)
        yield request


def serve_key_directory(
    signer: WebBotAuthSigner, host: str = "127.0.0.1", port: int = 0
) -> ThreadingHTTPServer:
    """Serve the signer's key directory at the well-known path in a daemon thread.

    For agent developers who want a `Signature-Agent` URL that resolves; stop it with `.shutdown()`.
    """
    body = json.dumps(signer.key_directory()).encode("utf-8")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != KEY_DIRECTORY_PATH:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("content-type", KEY_DIRECTORY_MEDIA_TYPE)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="key-directory", daemon=True).start()
    return server
