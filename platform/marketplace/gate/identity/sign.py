"""Web Bot Auth signing: headers for one request, an httpx signer, the key directory response."""

from __future__ import annotations

import datetime as dt
from collections.abc import Generator, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from http_message_signatures import HTTPMessageSigner, algorithms

from marketplace.core.clock import Clock, system_clock
from marketplace.gate.identity.httpsig import (
    DEFAULT_COVERED,
    SIGNATURE_LABEL,
    TAG,
    Message,
    OneKey,
    ResponseMessage,
    new_nonce,
    timestamp,
)
from marketplace.gate.identity.keys import load_or_create_platform_key, platform_keyid

DIRECTORY_TAG = "http-message-signatures-directory"
DIRECTORY_VALIDITY_S = 300


def sign_request(
    method: str,
    url: str,
    headers: Mapping[str, str] | None,
    *,
    private_key: Ed25519PrivateKey,
    keyid: str,
    now: dt.datetime | float,
    nonce: str,
    expires_in_s: int = 60,
    signature_agent: str | None = None,
    covered_components: Iterable[str] = DEFAULT_COVERED,
) -> dict[str, str]:
    """Web Bot Auth headers for one request: Signature, Signature-Input (and Signature-Agent).

    `url` must be the absolute URL the client sends. `signature_agent` is the URL of the signer's
    key directory; it is sent in the dictionary form of the IETF draft
    (`Signature-Agent: sig1="https://..."`) and covered as `"signature-agent";key="sig1"`.
    """
    created = int(timestamp(now))
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise ValueError(f"sign_request needs an absolute URL, not {url!r}")
    components = list(covered_components)
    lines = [(k, v) for k, v in (headers or {}).items()]
    out: dict[str, str] = {}
    if signature_agent is not None:
        agent_field = f'{SIGNATURE_LABEL}="{_sf_string(signature_agent)}"'
        lines.append(("Signature-Agent", agent_field))
        out["Signature-Agent"] = agent_field
        components.append(f'"signature-agent";key="{SIGNATURE_LABEL}"')
    message = Message(method.upper(), url, lines)
    _sign(
        message,
        OneKey(keyid, private_key=private_key),
        created=created,
        expires_in_s=expires_in_s,
        nonce=nonce,
        label=SIGNATURE_LABEL,
        tag=TAG,
        components=components,
    )
    out["Signature-Input"] = message.headers["Signature-Input"]
    out["Signature"] = message.headers["Signature"]
    return out


def _sf_string(value: str) -> str:
    if not value.isascii() or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ValueError("Signature-Agent must be printable ASCII")
    return value.replace("\\", "\\\\").replace('"', '\\"')


class RequestSigner(httpx.Auth):
    """Signs outgoing requests with one Ed25519 key (Web Bot Auth), each with a fresh nonce.

    Register it as an httpx request hook, which httpx calls for every request it sends,
    redirects it follows included, so each hop carries a signature of its own:
    `httpx.Client(event_hooks={"request": [signer]}, follow_redirects=True)`. As `auth=` it
    signs only the request it is handed: httpx copies those headers onto a redirect it follows,
    and the second hop is refused as a replay, so `auth=` suits clients that never follow one.
    The harness's first-party client (`sandbox.firstparty_client`) uses the platform's key;
    any other agent passes its own key and keyid. `clock` must agree with the server's clock
    within the policy's allowed skew. `signature_agent` is the URL of the signer's key
    directory, sent in the dictionary form of the IETF draft and signed.
    """

    def __init__(
        self,
        private_key: Ed25519PrivateKey,
        *,
        keyid: str | None = None,
        signature_agent: str | None = None,
        expires_in_s: int = 60,
        clock: Clock = system_clock,
    ) -> None:
        self.private_key = private_key
        self.keyid = keyid or platform_keyid(private_key)
        self.signature_agent = signature_agent
        self.expires_in_s = expires_in_s
        self.clock = clock

    def __repr__(self) -> str:  # the key stays out of logs and tracebacks
        return f"RequestSigner(keyid={self.keyid!r})"

    @classmethod
    def for_platform(cls, key_file: Path, **kwargs: Any) -> RequestSigner:
        """A signer with the platform's own key, read from (or created in) the data folder."""
        return cls(load_or_create_platform_key(key_file), **kwargs)

    def headers(
        self, method: str, url: str, headers: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """Signature, Signature-Input (and Signature-Agent) for one request, with a new nonce."""
        return sign_request(
            method,
            url,
            headers,
            private_key=self.private_key,
            keyid=self.keyid,
            now=self.clock(),
            nonce=new_nonce(),
            expires_in_s=self.expires_in_s,
            signature_agent=self.signature_agent,
        )

    def sign(self, request: httpx.Request) -> None:
        """Sign `request` as it leaves, replacing any signature an earlier hop carried."""
        request.headers.update(self.headers(request.method, str(request.url)))

    def __call__(self, request: httpx.Request) -> None:
        """The request hook: httpx calls it once per request sent, each redirect included."""
        self.sign(request)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.sign(request)
        yield request


def sign_directory_response(
    url: str,
    body: bytes,
    *,
    private_key: Ed25519PrivateKey,
    keyid: str,
    now: dt.datetime,
    nonce: str,
) -> dict[str, str]:
    """Content-Digest and signature headers for the key directory's response.

    The signature covers `@authority` of the request and the `Content-Digest` (RFC 9530, sha-256)
    of `body`, the bytes the response carries, as the protocol draft's domain binding requires:
    the key set cannot be re-served under another authority, nor altered.
    """
    response = ResponseMessage(200, Message("GET", url))
    _sign(
        response,
        OneKey(keyid, private_key=private_key),
        created=int(now.timestamp()),
        expires_in_s=DIRECTORY_VALIDITY_S,
        nonce=nonce,
        label="binding0",
        tag=DIRECTORY_TAG,
        components=('"@authority";req', "content-digest"),
        body=body,  # the library adds Content-Digest (sha-256) of exactly these bytes
    )
    return dict(response.headers.items())


def _sign(
    message: Message | ResponseMessage,
    key: OneKey,
    *,
    created: int,
    expires_in_s: int,
    nonce: str,
    label: str,
    tag: str,
    components: Iterable[str],
    body: bytes | None = None,
) -> None:
    """Add Signature-Input and Signature to `message`, Ed25519 over `components`."""
    signer = HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=key)
    signer.sign(
        message,
        key_id=key.keyid,
        created=dt.datetime.fromtimestamp(created, tz=dt.UTC),
        expires=dt.datetime.fromtimestamp(created + expires_in_s, tz=dt.UTC),
        nonce=nonce,
        label=label,
        tag=tag,
        covered_component_ids=list(components),
        body=body,
    )
