"""Web Bot Auth: RFC 9421 HTTP Message Signatures with Ed25519, checked and produced.

Verification parses `Signature-Input` and `Signature` once, with the parser of
`http-message-signatures`, checks the Web Bot Auth rules itself (tag, algorithm, time window,
required coverage, known key) so every refusal has a precise reason, then hands the parsed
signature to the library's per-signature step, which checks the parameters, rebuilds the signature
base and checks the Ed25519 signature. (The library's `verify()` would parse both headers a second
time, which cost as much as the Ed25519 check.) The library's own time checks read the system clock,
so they are switched off in favour of ours, which use the platform's injectable clock. Nothing here
fetches a key over the network: unknown keys are refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    algorithms,
)
from http_message_signatures.exceptions import HTTPMessageSignaturesException
from http_sf.compat import Dictionary, InnerList, Item

from marketplace.core.clock import Clock, system_clock
from marketplace.gate.facts import RequestFacts
from marketplace.gate.identity.keys import (
    KeyEntry,
    Keyring,
    load_or_create_platform_key,
    platform_keyid,
)

TAG = "web-bot-auth"
ALGORITHM = "ed25519"
SIGNATURE_LABEL = "sig1"
# Real Web Bot Auth headers are a few hundred bytes; the cap stops parser abuse, not honest agents.
MAX_SIGNATURE_HEADER_BYTES = 4096
MAX_SIGNATURE_AGENT_BYTES = 1024
# Components an honest agent signs; @authority binds the signature to this host.
DEFAULT_COVERED = ("@authority", "@method", "@path")

Status = Literal["absent", "valid", "invalid"]


class NonceCache(Protocol):
    def nonce_seen(self, key: str, ttl_s: float) -> bool: ...


@dataclass(frozen=True)
class SignatureCheck:
    """The outcome of the Web Bot Auth step, recorded as a signal of the decision."""

    status: Status
    keyid: str | None = None
    owner: str | None = None  # "platform" or a partner name, when valid
    agent: str | None = None  # the Signature-Agent value, when present
    reason: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    # Names of the covered components (e.g. "@authority", "crawler-exact-price"), when valid:
    # a header the caller relies on (a price accepted, say) counts only if it is covered here.
    covered: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return self.status == "valid"

    def covers(self, component: str) -> bool:
        """True when the valid signature covers `component` (a lower-case header name or @-name)."""
        return self.status == "valid" and component.lower() in self.covered


class ReplayStoreUnavailable(RuntimeError):
    """The nonce store could not be asked: the signature can be neither accepted nor refused.

    Raised rather than reported as an invalid signature, so the gate's `on_error` decides, as
    the policy says it should when identification itself fails.
    """


def _invalid(reason: str, **kwargs: Any) -> SignatureCheck:
    return SignatureCheck(status="invalid", reason=reason, **kwargs)


class _Message:
    """The minimal request view `http-message-signatures` resolves components from."""

    def __init__(self, method: str, url: str, headers: Iterable[tuple[str, str]]) -> None:
        self.method = method
        self.url = url
        self.headers = _Headers(list(headers))


class _Headers:
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


class _OneKeyResolver(HTTPSignatureKeyResolver):
    """The keyring entry the signature names, already looked up (and its key object cached)."""

    def __init__(self, entry: KeyEntry) -> None:
        self.entry = entry

    def resolve_public_key(self, key_id: str) -> Any:
        return self.entry.public_key if key_id == self.entry.keyid else None

    def resolve_private_key(self, key_id: str) -> Any:
        raise HTTPMessageSignaturesException("the verifier holds no private keys")


class _Verifier(HTTPMessageVerifier):
    def validate_created_and_expires(self, sig_input: Any, max_age: Any = None) -> None:
        # Checked before the library runs, against the platform's clock (see the module docstring).
        return None


def _parse_signature_field(value: str) -> Dictionary | None:
    """Signature or Signature-Input parsed once, by the library's own parser; None if malformed.

    The library's parser refuses a label that appears twice (RFC 8941 would keep the last), so
    a second header line cannot quietly replace the signature that was checked.
    """
    if not value.isascii():
        return None
    try:
        parsed: Dictionary = _Verifier._parse_signature_dictionary(value)
    except (HTTPMessageSignaturesException, ValueError, TypeError):
        return None
    return parsed


class _PrivateKeyResolver(HTTPSignatureKeyResolver):
    def __init__(self, key: Ed25519PrivateKey) -> None:
        self.key = key

    def resolve_public_key(self, key_id: str) -> Any:
        return self.key.public_key()

    def resolve_private_key(self, key_id: str) -> Any:
        return self.key


def _timestamp(now: dt.datetime | float) -> float:
    return now.timestamp() if isinstance(now, dt.datetime) else float(now)


def _component_name(item: Any) -> str | None:
    return item.value if isinstance(item, Item) and isinstance(item.value, str) else None


def verify_signature(
    facts: RequestFacts,
    *,
    keyring: Keyring,
    state: NonceCache | None,
    now: dt.datetime | float,
    max_skew_s: float,
    max_validity_s: float,
) -> SignatureCheck:
    """Check the request's Web Bot Auth signature; every refusal has a reason.

    Raises only ReplayStoreUnavailable (the nonce store is down), for the gate's `on_error`.
    """
    try:
        return _verify(
            facts,
            keyring=keyring,
            state=state,
            now=_timestamp(now),
            max_skew_s=max_skew_s,
            max_validity_s=max_validity_s,
        )
    except ReplayStoreUnavailable:
        raise
    except Exception as exc:  # a verifier that throws would let a crafted header take the gate down
        return _invalid(f"The signature could not be checked ({type(exc).__name__}).")


def _verify(
    facts: RequestFacts,
    *,
    keyring: Keyring,
    state: NonceCache | None,
    now: float,
    max_skew_s: float,
    max_validity_s: float,
) -> SignatureCheck:
    sig_header = facts.header("signature")
    input_header = facts.header("signature-input")
    agent_header = facts.header("signature-agent")
    if sig_header is None and input_header is None:
        return SignatureCheck(status="absent", agent=agent_header)
    if sig_header is None or input_header is None:
        missing = "Signature" if sig_header is None else "Signature-Input"
        return _invalid(f"The {missing} header is missing; send Signature and Signature-Input.")
    if (
        len(sig_header) > MAX_SIGNATURE_HEADER_BYTES
        or len(input_header) > MAX_SIGNATURE_HEADER_BYTES
        or (agent_header is not None and len(agent_header) > MAX_SIGNATURE_AGENT_BYTES)
    ):
        return _invalid(
            f"Signature headers are too large (limit {MAX_SIGNATURE_HEADER_BYTES} bytes); send "
            "one web-bot-auth signature."
        )

    inputs = _parse_signature_field(input_header)
    if inputs is None:
        return _invalid(
            "Signature-Input is not a valid structured-field dictionary (RFC 8941) with one "
            "member per label."
        )
    signatures = _parse_signature_field(sig_header)
    if signatures is None:
        return _invalid(
            "Signature is not a valid structured-field dictionary (RFC 8941) with one member "
            "per label."
        )

    # `.data` is the plain dict under the parser's UserDict: its views compare and iterate in C.
    members, signed = inputs.data, signatures.data
    tagged = [
        label
        for label, member in members.items()
        if isinstance(member, InnerList) and member.params.get("tag") == TAG
    ]
    if not tagged:
        return _invalid(f'No signature carries tag="{TAG}"; add it to Signature-Input.')
    if len(tagged) > 1:
        return _invalid(f'Send exactly one signature with tag="{TAG}", not {len(tagged)}.')
    label = tagged[0]
    sig_input: InnerList = members[label]
    params = dict(sig_input.params)
    if label not in signed:
        return _invalid(
            f'Signature has no member "{label}" to match Signature-Input.', params=params
        )
    sig_item = signed[label]
    if not isinstance(sig_item, Item) or not isinstance(sig_item.value, bytes):
        return _invalid(f'Signature member "{label}" must be a byte sequence (:base64:).')
    if members.keys() != signed.keys():
        return _invalid(
            "Signature and Signature-Input must name the same labels; send both for every "
            "signature.",
            params=params,
        )

    keyid = params.get("keyid")
    if not isinstance(keyid, str) or not keyid:
        return _invalid("Signature-Input lacks keyid; set it to your key's JWK thumbprint.")
    alg = params.get("alg", ALGORITHM)
    if alg != ALGORITHM:
        return _invalid(
            f'Algorithm {alg!r} is not accepted; Web Bot Auth here uses alg="{ALGORITHM}".',
            keyid=keyid,
            params=params,
        )

    created, expires = params.get("created"), params.get("expires")
    if not isinstance(created, int) or isinstance(created, bool):
        return _invalid("Signature-Input lacks created (an integer Unix time).", keyid=keyid)
    if not isinstance(expires, int) or isinstance(expires, bool):
        return _invalid("Signature-Input lacks expires (an integer Unix time).", keyid=keyid)
    if created > now + max_skew_s:
        return _invalid(
            f"created is {created - now:.0f}s in the future (allowed clock skew {max_skew_s:g}s); "
            "check the signer's clock.",
            keyid=keyid,
            params=params,
        )
    if expires < now - max_skew_s:
        return _invalid(
            f"The signature expired {now - expires:.0f}s ago; sign each request afresh.",
            keyid=keyid,
            params=params,
        )
    if expires <= created:
        return _invalid("expires must be later than created.", keyid=keyid, params=params)
    if expires - created > max_validity_s:
        return _invalid(
            f"The signature is valid for {expires - created}s; at most {max_validity_s:g}s is "
            "accepted, so use a shorter expires.",
            keyid=keyid,
            params=params,
        )

    covered = tuple(n for n in (_component_name(item) for item in sig_input) if n is not None)
    if "@authority" not in covered:
        return _invalid('The signature must cover "@authority".', keyid=keyid, params=params)
    if agent_header is not None and "signature-agent" not in covered:
        return _invalid(
            'A Signature-Agent header was sent, so the signature must cover "signature-agent".',
            keyid=keyid,
            params=params,
        )

    entry = keyring.get(keyid)
    if entry is None:
        return _invalid(
            "The key is unknown here; register its public JWK with POST /api/v1/partners (keys "
            "are never fetched from the network).",
            keyid=keyid,
            params=params,
        )

    # The library checks the rest and does the RFC 9421 work on the members parsed above:
    # parameter types and names, the signature base from the covered components, Ed25519.
    query = f"?{facts.query}" if facts.query else ""
    url = f"{facts.scheme}://{facts.authority}{facts.raw_path or '/'}{query}"
    # Only covered fields can enter the signature base, so the message carries only those.
    fields = [(name, value) for name, value in facts.headers if name in covered]
    message = _Message(facts.method.upper(), url, fields)
    try:
        _Verifier._validate_signature_param_types(params)  # type: ignore[no-untyped-call]
        verifier = _Verifier(
            signature_algorithm=algorithms.ED25519, key_resolver=_OneKeyResolver(entry)
        )
        # verify() would parse both headers again; its per-signature step takes them parsed.
        verifier._verify_one(  # type: ignore[no-untyped-call]
            label=label, sig_input=sig_input, signature=sig_item, message=message, max_age=None
        )
    except HTTPMessageSignaturesException as exc:
        return _invalid(
            f"The signature does not match this request ({_short(exc)}); sign exactly what "
            "you send.",
            keyid=keyid,
            params=params,
        )

    # Replays are checked only after the signature holds, so forged junk cannot fill the cache.
    nonce = params.get("nonce")
    replay_key = (
        f"n:{keyid}:{nonce}"
        if isinstance(nonce, str) and nonce
        else f"s:{hashlib.sha256(sig_item.value).hexdigest()}"
    )
    try:
        seen = state is not None and state.nonce_seen(
            replay_key, max(1.0, expires - now + max_skew_s)
        )
    except Exception as exc:  # e.g. the database behind the shared state is down
        raise ReplayStoreUnavailable(f"the nonce store failed: {type(exc).__name__}") from exc
    if seen:
        return _invalid(
            "This signature (nonce) was already used; sign each request with a fresh nonce.",
            keyid=keyid,
            owner=entry.owner,
            params=params,
        )
    return SignatureCheck(
        status="valid",
        keyid=keyid,
        owner=entry.owner,
        agent=_agent_value(agent_header, sig_input),
        params=params,
        covered=covered,
    )


def _short(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:160]


def _agent_value(header: str | None, sig_input: InnerList) -> str | None:
    """The signed agent URL: the dictionary member the signature names, or the bare string form."""
    if header is None:
        return None
    for item in sig_input:
        if _component_name(item) == "signature-agent" and "key" in item.params:
            parsed = Dictionary()
            try:
                parsed.parse(header.encode("ascii"))
                member = parsed[item.params["key"]]
            except (ValueError, KeyError, TypeError, UnicodeError):
                return header
            return str(member.value)
    stripped = header.strip()
    if len(stripped) >= 2 and stripped[0] == stripped[-1] == '"':
        return stripped[1:-1]
    return stripped


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
    key directory host; it is sent in the dictionary form of the Web Bot Auth draft and signed.
    """
    created = int(_timestamp(now))
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
    message = _Message(method.upper(), url, lines)
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519, key_resolver=_PrivateKeyResolver(private_key)
    )
    signer.sign(
        message,
        key_id=keyid,
        created=dt.datetime.fromtimestamp(created, tz=dt.UTC),
        expires=dt.datetime.fromtimestamp(created + expires_in_s, tz=dt.UTC),
        nonce=nonce,
        label=SIGNATURE_LABEL,
        tag=TAG,
        covered_component_ids=components,
    )
    out["Signature-Input"] = message.headers["Signature-Input"]
    out["Signature"] = message.headers["Signature"]
    return out


def _sf_string(value: str) -> str:
    if not value.isascii() or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ValueError("Signature-Agent must be printable ASCII")
    return value.replace("\\", "\\\\").replace('"', '\\"')


class RequestSigner(httpx.Auth):
    """Signs every outgoing request with one Ed25519 key (Web Bot Auth), with a fresh nonce.

    The harness's first-party client uses the platform's key:
    `httpx.Client(auth=RequestSigner.for_platform(settings.resolved_signing_key_file))`.
    Any other agent passes its own key and keyid. `clock` must agree with the server's clock
    within the policy's allowed skew.
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
        """Signature, Signature-Input (and Signature-Agent) for one request."""
        return sign_request(
            method,
            url,
            headers,
            private_key=self.private_key,
            keyid=self.keyid,
            now=self.clock(),
            nonce=secrets.token_urlsafe(16),
            expires_in_s=self.expires_in_s,
            signature_agent=self.signature_agent,
        )

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(self.headers(request.method, str(request.url)))
        yield request
