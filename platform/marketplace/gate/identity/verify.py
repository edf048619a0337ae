"""Web Bot Auth verification: RFC 9421 HTTP Message Signatures with Ed25519, checked step by step.

Verification parses `Signature-Input` and `Signature` once, with the parser of
`http-message-signatures`, checks the Web Bot Auth rules itself (tag, algorithm, time window,
required coverage, known key) so every refusal has a precise reason, then hands the parsed
signature to the library's per-signature step, which checks the parameters, rebuilds the signature
base and checks the Ed25519 signature. (The library's `verify()` would parse both headers a second
time.) The library's own time checks read the system clock, so they are switched off in favour of
ours, which use the platform's injectable clock. Nothing here fetches a key over the network:
unknown keys are refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from http_message_signatures import HTTPMessageVerifier, algorithms
from http_message_signatures.exceptions import HTTPMessageSignaturesException
from http_sf.compat import Dictionary, InnerList, Item

from marketplace.gate.facts import RequestFacts
from marketplace.gate.identity.httpsig import (
    ALGORITHM,
    MAX_SIGNATURE_AGENT_BYTES,
    MAX_SIGNATURE_HEADER_BYTES,
    TAG,
    Message,
    OneKey,
    timestamp,
)
from marketplace.gate.identity.keys import KeyEntry, Keyring

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
            now=timestamp(now),
            max_skew_s=max_skew_s,
            max_validity_s=max_validity_s,
        )
    except ReplayStoreUnavailable:
        raise
    except Exception as exc:  # a verifier that throws would let a crafted header take the gate down
        return _invalid(f"The signature could not be checked ({type(exc).__name__}).")


@dataclass(frozen=True)
class _Parsed:
    """The one web-bot-auth signature of a request, parsed, with its parameters."""

    label: str
    sig_input: InnerList
    signature: bytes
    params: dict[str, Any]
    agent_header: str | None


def _verify(
    facts: RequestFacts,
    *,
    keyring: Keyring,
    state: NonceCache | None,
    now: float,
    max_skew_s: float,
    max_validity_s: float,
) -> SignatureCheck:
    parsed = _parse(facts)
    if isinstance(parsed, SignatureCheck):
        return parsed
    params = parsed.params
    keyid = params.get("keyid")
    if not isinstance(keyid, str) or not keyid:
        return _invalid("Signature-Input lacks keyid; set it to your key's JWK thumbprint.")
    refusal = _check_parameters(parsed, keyid, now, max_skew_s, max_validity_s)
    if refusal is not None:
        return refusal
    covered = tuple(n for n in (_component_name(i) for i in parsed.sig_input) if n is not None)
    refusal = _check_coverage(parsed, keyid, covered)
    if refusal is not None:
        return refusal
    entry = keyring.get(keyid)
    if entry is None:
        return _invalid(
            "The key is unknown here; register its public JWK with POST /api/v1/partners (keys "
            "are never fetched from the network).",
            keyid=keyid,
            params=params,
        )
    refusal = _check_signature(facts, parsed, entry, covered)
    if refusal is not None:
        return refusal
    # Replays are checked only after the signature holds, so forged junk cannot fill the cache.
    if _replayed(parsed, keyid, state, now, max_skew_s):
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
        agent=_agent_value(parsed.agent_header, parsed.sig_input),
        params=params,
        covered=covered,
    )


def _parse(facts: RequestFacts) -> _Parsed | SignatureCheck:
    """The request's one web-bot-auth signature, or the check that says why there is none."""
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
    return _Parsed(label, sig_input, sig_item.value, params, agent_header)


def _check_parameters(
    parsed: _Parsed, keyid: str, now: float, max_skew_s: float, max_validity_s: float
) -> SignatureCheck | None:
    """The algorithm and the time window; None when both are acceptable."""
    params = parsed.params
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
    return None


def _check_coverage(parsed: _Parsed, keyid: str, covered: tuple[str, ...]) -> SignatureCheck | None:
    """The components the signature must cover; None when it covers them."""
    params = parsed.params
    if "@authority" not in covered:
        return _invalid('The signature must cover "@authority".', keyid=keyid, params=params)
    if parsed.agent_header is not None and "signature-agent" not in covered:
        return _invalid(
            'A Signature-Agent header was sent, so the signature must cover "signature-agent".',
            keyid=keyid,
            params=params,
        )
    return None


def _check_signature(
    facts: RequestFacts, parsed: _Parsed, entry: KeyEntry, covered: tuple[str, ...]
) -> SignatureCheck | None:
    """The RFC 9421 work, by the library, on the members parsed above; None when it holds."""
    # The library checks the rest and does the RFC 9421 work on the members parsed above:
    # parameter types and names, the signature base from the covered components, Ed25519.
    query = f"?{facts.query}" if facts.query else ""
    url = f"{facts.scheme}://{facts.authority}{facts.raw_path or '/'}{query}"
    # Only covered fields can enter the signature base, so the message carries only those.
    fields = [(name, value) for name, value in facts.headers if name in covered]
    message = Message(facts.method.upper(), url, fields)
    try:
        _Verifier._validate_signature_param_types(parsed.params)  # type: ignore[no-untyped-call]
        verifier = _Verifier(
            signature_algorithm=algorithms.ED25519,
            key_resolver=OneKey(entry.keyid, public_key=entry.public_key),
        )
        # verify() would parse both headers again; its per-signature step takes them parsed.
        verifier._verify_one(  # type: ignore[no-untyped-call]
            label=parsed.label,
            sig_input=parsed.sig_input,
            signature=Item(parsed.signature),
            message=message,
            max_age=None,
        )
    except HTTPMessageSignaturesException as exc:
        return _invalid(
            f"The signature does not match this request ({_short(exc)}); sign exactly what "
            "you send.",
            keyid=entry.keyid,
            params=parsed.params,
        )
    return None


def _replayed(
    parsed: _Parsed, keyid: str, state: NonceCache | None, now: float, max_skew_s: float
) -> bool:
    """Claim the signature's nonce (or, without one, its bytes) across every worker."""
    nonce = parsed.params.get("nonce")
    replay_key = (
        f"n:{keyid}:{nonce}"
        if isinstance(nonce, str) and nonce
        else f"s:{hashlib.sha256(parsed.signature).hexdigest()}"
    )
    expires = parsed.params["expires"]
    try:
        return state is not None and state.nonce_seen(
            replay_key, max(1.0, expires - now + max_skew_s)
        )
    except Exception as exc:  # e.g. the database behind the shared state is down
        raise ReplayStoreUnavailable(f"the nonce store failed: {type(exc).__name__}") from exc


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
