"""Web Bot Auth verification: RFC 9421 HTTP Message Signatures with Ed25519, checked step by step.

Verification parses `Signature-Input` and `Signature` once, with the parser of
`http-message-signatures`, checks the Web Bot Auth rules itself (tag and profile, algorithm, time
window, required coverage, known key) so every refusal has a precise reason, then hands each parsed
signature to the library's per-signature step, which checks the parameters, rebuilds the signature
base and checks the Ed25519 signature. (The library's `verify()` would parse both headers a second
time.) The library's own time checks read the system clock, so they are switched off in favour of
ours, which use the platform's injectable clock. Nothing here fetches a key over the network:
unknown keys are refused.

A request may carry several signatures (draft-ietf-webbotauth-httpsig-protocol, "Multiple
Signatures"). Each one whose tag belongs to a profile the policy accepts is validated on its own,
against its own covered components and its own key, and the nonce of every one that holds is
claimed. What is reported: the first signature (in `Signature-Input` order) that holds; when none
does, the first failure of a registered key; otherwise the first failure.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from http_message_signatures import HTTPMessageVerifier, algorithms
from http_message_signatures.exceptions import HTTPMessageSignaturesException
from http_sf.compat import Dictionary, InnerList, Item

from marketplace.gate.facts import RequestFacts
from marketplace.gate.identity.httpsig import (
    ALGORITHM,
    MAX_SIGNATURE_AGENT_BYTES,
    MAX_SIGNATURE_HEADER_BYTES,
    MAX_SIGNATURES,
    Message,
    OneKey,
    SodiumEd25519,
    timestamp,
)
from marketplace.gate.identity.keys import KeyEntry, Keyring
from marketplace.gate.identity.profiles import (
    DEFAULT_PROFILES,
    PROFILES,
    ProfileName,
    SignatureAgent,
    accepted_tags,
    parse_signature_agent,
    profile_of,
)

Status = Literal["absent", "valid", "invalid"]
# The signature status an agent is told (X-Signature-Status); `absent` when nothing was signed.
Code = Literal[
    "absent",
    "verified",
    "unknown-key",
    "expired",
    "not-yet-valid",
    "replayed",
    "bad-signature",
    "malformed",
    "missing-component",
    "wrong-tag",
    "too-long",
]


class NonceCache(Protocol):
    def nonce_seen(self, key: str, ttl_s: float) -> bool: ...


@dataclass(frozen=True)
class SignatureCheck:
    """The outcome of the Web Bot Auth step, recorded as a signal of the decision."""

    status: Status
    keyid: str | None = None
    owner: str | None = None  # "platform" or a partner name, whenever the keyid is registered
    agent: str | None = None  # the Signature-Agent URL the signature covers, when present
    reason: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    # Names of the covered components (e.g. "@authority", "crawler-exact-price"). A header the
    # caller relies on (a price accepted, say) counts only if `covers()` says so.
    covered: tuple[str, ...] = ()
    code: Code = "absent"
    # The keyid names a key this platform knows. A failure of such a key is the signer's bug and
    # is refused; a failure nobody can attribute leaves the request on its ordinary path.
    registered: bool = False
    label: str | None = None
    profile: ProfileName | None = None
    signatures: int = 0  # signatures with an accepted tag that the request carried
    # The signature header that does not parse (or is missing, or too large), when that is why.
    header: str | None = None

    @property
    def valid(self) -> bool:
        return self.status == "valid"

    @property
    def attributable(self) -> bool:
        """True when the outcome can be pinned on a known key: valid, or failed with one."""
        return self.status == "valid" or (self.status == "invalid" and self.registered)

    def covers(self, component: str) -> bool:
        """True when the valid signature covers `component` (a lower-case header name or @-name)."""
        return self.status == "valid" and component.lower() in self.covered


class ReplayStoreUnavailable(RuntimeError):
    """The nonce store could not be asked: the signature can be neither accepted nor refused.

    Raised rather than reported as an invalid signature, so the gate's `on_error` decides, as
    the policy says it should when identification itself fails.
    """


def _invalid(code: Code, reason: str, **kwargs: Any) -> SignatureCheck:
    return SignatureCheck(status="invalid", code=code, reason=reason, **kwargs)


class _Verifier(HTTPMessageVerifier):
    def validate_created_and_expires(self, sig_input: Any, max_age: Any = None) -> None:
        # Checked before the library runs, against the platform's clock (see the module docstring).
        return None


def _parse_signature_field(value: str) -> Dictionary | str:
    """Signature or Signature-Input parsed once, by the library's own parser; else the error.

    The library's parser refuses a label that appears twice (RFC 8941 would keep the last), so
    a second header line cannot quietly replace the signature that was checked.
    """
    if not value.isascii():
        return "it holds a character that is not ASCII"
    try:
        parsed: Dictionary = _Verifier._parse_signature_dictionary(value)
    except (HTTPMessageSignaturesException, ValueError, TypeError) as exc:
        return _short(exc)
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
    profiles: tuple[ProfileName, ...] = DEFAULT_PROFILES,
) -> SignatureCheck:
    """Check the request's Web Bot Auth signatures; every refusal has a reason.

    Raises only ReplayStoreUnavailable (the nonce store is down), for the gate's `on_error`.
    """
    bounds = _Bounds(timestamp(now), max_skew_s, max_validity_s)
    try:
        return _verify(facts, keyring=keyring, state=state, bounds=bounds, profiles=profiles)
    except ReplayStoreUnavailable:
        raise
    except Exception as exc:  # a verifier that throws would let a crafted header take the gate down
        return _invalid("malformed", f"The signature could not be checked ({type(exc).__name__}).")


@dataclass(frozen=True)
class _Bounds:
    now: float
    max_skew_s: float
    max_validity_s: float


@dataclass(frozen=True)
class _Candidate:
    """One signature of the request whose tag belongs to an accepted profile, parsed."""

    label: str
    sig_input: InnerList
    signature: bytes
    params: dict[str, Any]
    profile: ProfileName
    covered: tuple[str, ...]


@dataclass(frozen=True)
class _Request:
    candidates: tuple[_Candidate, ...]
    agent: SignatureAgent


def _verify(
    facts: RequestFacts,
    *,
    keyring: Keyring,
    state: NonceCache | None,
    bounds: _Bounds,
    profiles: tuple[ProfileName, ...],
) -> SignatureCheck:
    request = _parse(facts, profiles)
    if isinstance(request, SignatureCheck):
        return request
    results = [_check_one(facts, request, c, keyring, bounds) for c in request.candidates]
    # Replays are checked only after a signature holds, so forged junk cannot fill the cache;
    # every signature that holds is claimed, so none of them can be replayed on its own later.
    results = [
        _claim(result, candidate, state, bounds) if result.valid else result
        for result, candidate in zip(results, request.candidates, strict=True)
    ]
    chosen = (
        next((r for r in results if r.valid), None)
        or next((r for r in results if r.registered), None)
        or results[0]
    )
    return replace(chosen, signatures=len(results))


def _parse(facts: RequestFacts, profiles: tuple[ProfileName, ...]) -> _Request | SignatureCheck:
    """The request's signatures under the accepted profiles, or the check that says why none."""
    sig_header = facts.header("signature")
    input_header = facts.header("signature-input")
    agent_header = facts.header("signature-agent")
    if sig_header is None and input_header is None:
        return SignatureCheck(status="absent", agent=agent_header)
    if sig_header is None or input_header is None:
        missing = "Signature" if sig_header is None else "Signature-Input"
        return _invalid(
            "malformed",
            f"The {missing} header is missing; send Signature and Signature-Input.",
            header=missing,
        )
    for name, value in (("Signature", sig_header), ("Signature-Input", input_header)):
        if len(value) > MAX_SIGNATURE_HEADER_BYTES:
            return _invalid(
                "malformed",
                f"{name} is too large ({len(value)} bytes; the limit is "
                f"{MAX_SIGNATURE_HEADER_BYTES} bytes); send fewer signatures or parameters.",
                header=name,
            )
    if agent_header is not None and len(agent_header) > MAX_SIGNATURE_AGENT_BYTES:
        return _invalid(
            "malformed",
            f"Signature-Agent is too large ({len(agent_header)} bytes; the limit is "
            f"{MAX_SIGNATURE_AGENT_BYTES} bytes); name a shorter key directory URL.",
            header="Signature-Agent",
        )

    inputs = _parse_signature_field(input_header)
    if isinstance(inputs, str):
        return _invalid(
            "malformed",
            "Signature-Input is not a structured-field dictionary (RFC 8941) with one member "
            f"per label: {inputs}.",
            header="Signature-Input",
        )
    signatures = _parse_signature_field(sig_header)
    if isinstance(signatures, str):
        return _invalid(
            "malformed",
            "Signature is not a structured-field dictionary (RFC 8941) with one member per "
            f"label: {signatures}.",
            header="Signature",
        )
    # `.data` is the plain dict under the parser's UserDict: its views compare and iterate in C.
    members, signed = inputs.data, signatures.data
    if members.keys() != signed.keys():
        return _invalid(
            "malformed",
            "Signature and Signature-Input must name the same labels; send both for every "
            "signature.",
            header="Signature",
        )
    agent = parse_signature_agent(agent_header)
    candidates: list[_Candidate] = []
    refused: list[tuple[str, ProfileName]] = []
    for label, member in members.items():
        if not isinstance(member, InnerList):
            continue
        profile = profile_of(member.params.get("tag"), agent, profiles)
        if profile is None:
            continue  # another application's signature: not ours to judge
        if profile not in profiles:
            refused.append((label, profile))
            continue
        sig_item = signed[label]
        if not isinstance(sig_item, Item) or not isinstance(sig_item.value, bytes):
            return _invalid(
                "malformed",
                f'Signature member "{label}" must be a byte sequence (:base64:).',
                label=label,
                header="Signature",
            )
        covered = tuple(n for n in (_component_name(i) for i in member) if n is not None)
        candidates.append(
            _Candidate(label, member, sig_item.value, dict(member.params), profile, covered)
        )
    if not candidates:
        return _no_candidate(refused, profiles)
    if len(candidates) > MAX_SIGNATURES:
        return _invalid(
            "malformed",
            f"The request carries {len(candidates)} Web Bot Auth signatures; at most "
            f"{MAX_SIGNATURES} are checked, so send fewer.",
        )
    return _Request(tuple(candidates), agent)


def _no_candidate(
    refused: list[tuple[str, ProfileName]], profiles: tuple[ProfileName, ...]
) -> SignatureCheck:
    accepted = ", ".join(profiles)
    if refused:
        label, profile = refused[0]
        if profile == "legacy":
            return _invalid(
                "malformed",
                "Signature-Agent is a bare string (the legacy form), which this policy does not "
                f"accept (profiles: {accepted}); send the dictionary form "
                f'{label}="https://..." and cover "signature-agent";key="{label}".',
                label=label,
                profile=profile,
            )
        return _invalid(
            "wrong-tag",
            f'Signature "{label}" follows the {profile} profile, which this policy does not '
            f"accept (profiles: {accepted}).",
            label=label,
            profile=profile,
        )
    tags = " or ".join(f'tag="{tag}"' for tag in accepted_tags(profiles))
    return _invalid("wrong-tag", f"No signature carries {tags}; add it to Signature-Input.")


def _check_one(
    facts: RequestFacts,
    request: _Request,
    candidate: _Candidate,
    keyring: Keyring,
    bounds: _Bounds,
) -> SignatureCheck:
    """One signature, validated on its own: valid (its nonce not yet claimed) or why not."""
    params = candidate.params
    keyid = params.get("keyid")
    base: dict[str, Any] = {
        "params": params,
        "covered": candidate.covered,
        "label": candidate.label,
        "profile": candidate.profile,
    }
    if not isinstance(keyid, str) or not keyid:
        return _invalid(
            "malformed", "Signature-Input lacks keyid; set it to your key's JWK thumbprint.", **base
        )
    entry = keyring.get(keyid)
    base.update(keyid=keyid, registered=entry is not None, owner=entry.owner if entry else None)
    refusal = _check_parameters(candidate, bounds)
    if refusal is None:
        refusal = _check_coverage(candidate, request.agent)
    if refusal is not None:
        return _invalid(refusal[0], refusal[1], **base)
    if entry is None:
        return _invalid(
            "unknown-key",
            "The key is unknown here; register its public JWK with POST /api/v1/partners (keys "
            "are never fetched from the network).",
            **base,
        )
    failure = _check_signature(facts, candidate, entry)
    if failure is not None:
        return _invalid(
            "bad-signature",
            f"The signature does not match this request{failure}; sign exactly what you send "
            "(POST /api/v1/signature/explain shows the signature base rebuilt here).",
            **base,
        )
    return SignatureCheck(
        status="valid",
        code="verified",
        agent=_agent_value(request.agent, candidate),
        **base,
    )


def _check_parameters(candidate: _Candidate, bounds: _Bounds) -> tuple[Code, str] | None:
    """The algorithm, the time window and the profile's parameters; None when acceptable."""
    params, profile = candidate.params, PROFILES[candidate.profile]
    alg = params.get("alg", ALGORITHM)
    if alg != ALGORITHM:
        return "malformed", (
            f'Algorithm {alg!r} is not accepted; Web Bot Auth here uses alg="{ALGORITHM}".'
        )
    created, expires = params.get("created"), params.get("expires")
    if not isinstance(created, int) or isinstance(created, bool):
        return "malformed", "Signature-Input lacks created (an integer Unix time)."
    if not isinstance(expires, int) or isinstance(expires, bool):
        return "malformed", "Signature-Input lacks expires (an integer Unix time)."
    now, skew = bounds.now, bounds.max_skew_s
    if created > now + skew:
        return "not-yet-valid", (
            f"created is {created - now:.0f} s in the future; the allowed clock skew is "
            f"{skew:g} s, so check the signer's clock."
        )
    if expires < now - skew:
        return "expired", (
            f"The signature expired {now - expires:.0f} s ago (allowed clock skew {skew:g} s); "
            "sign each request afresh."
        )
    if expires <= created:
        return "malformed", "expires must be later than created."
    limit = bounds.max_validity_s
    if profile.max_validity_s is not None and profile.max_validity_s < limit:
        limit = profile.max_validity_s
    if expires - created > limit:
        return "too-long", (
            f"The signature is valid for {expires - created} s; at most {limit:g} s is "
            "accepted, so use a shorter expires."
        )
    nonce = params.get("nonce")
    if profile.nonce_required and not (isinstance(nonce, str) and nonce):
        return "malformed", f"The {profile.name} profile requires a nonce on every signature."
    return None


def _check_coverage(candidate: _Candidate, agent: SignatureAgent) -> tuple[Code, str] | None:
    """The components the signature must cover; None when it covers them."""
    covered = candidate.covered
    if "@authority" not in covered and "@target-uri" not in covered:
        return "missing-component", 'The signature must cover "@authority" (or "@target-uri").'
    if PROFILES[candidate.profile].page_bound and not (
        "@path" in covered or "@target-uri" in covered
    ):
        return "missing-component", (
            f'The {candidate.profile} profile binds a signature to the page: cover "@path" '
            '(or "@target-uri").'
        )
    if agent.form == "absent":
        return None
    if agent.form == "invalid":
        return "malformed", (
            'Signature-Agent is neither a structured-field dictionary (sig1="https://...") nor '
            "a string; send the dictionary form."
        )
    if "signature-agent" not in covered:
        return "missing-component", (
            'A Signature-Agent header was sent, so the signature must cover "signature-agent" '
            f'(as "signature-agent";key="{candidate.label}").'
        )
    for key in _agent_keys(candidate):
        if agent.form != "dictionary":
            return "malformed", (
                f'The signature covers "signature-agent";key="{key}", but Signature-Agent is '
                "not a dictionary."
            )
        if agent.member(key) is None:
            return "missing-component", f'Signature-Agent has no member "{key}" to cover.'
    return None


def _agent_keys(candidate: _Candidate) -> list[str]:
    """The dictionary members of Signature-Agent the signature covers by key."""
    return [
        str(item.params["key"])
        for item in candidate.sig_input
        if _component_name(item) == "signature-agent" and "key" in item.params
    ]


def _check_signature(facts: RequestFacts, candidate: _Candidate, entry: KeyEntry) -> str | None:
    """The RFC 9421 work, by the library, on the member parsed above; None when it holds."""
    # The library checks parameter types and names, builds the signature base from the covered
    # components (@authority and @target-uri from this request as it arrived, so a signature
    # made for another host cannot match) and checks Ed25519.
    message = _message(facts, candidate)
    try:
        _Verifier._validate_signature_param_types(candidate.params)  # type: ignore[no-untyped-call]
        verifier = _Verifier(
            signature_algorithm=SodiumEd25519,
            key_resolver=OneKey(entry.keyid, verify_key=entry.verify_key),
        )
        # verify() would parse both headers again; its per-signature step takes them parsed.
        verifier._verify_one(  # type: ignore[no-untyped-call]
            label=candidate.label,
            sig_input=candidate.sig_input,
            signature=Item(candidate.signature),
            message=message,
            max_age=None,
        )
    except HTTPMessageSignaturesException as exc:
        text = _short(exc)
        # A bare exception name says nothing more than "does not match".
        return "" if text.isidentifier() else f" ({text})"
    return None


def _message(facts: RequestFacts, candidate: _Candidate) -> Message:
    """The request as the library reads components from it."""
    query = f"?{facts.query}" if facts.query else ""
    url = f"{facts.scheme}://{facts.authority}{facts.raw_path or '/'}{query}"
    # Only covered fields can enter the signature base, so the message carries only those.
    fields = [(name, value) for name, value in facts.headers if name in candidate.covered]
    return Message(facts.method.upper(), url, fields)


def signature_base(
    facts: RequestFacts, label: str | None, profiles: tuple[ProfileName, ...] = DEFAULT_PROFILES
) -> tuple[str | None, str]:
    """(base, "") for signature `label` of the request: the RFC 9421 section 2.5 signature base
    exactly as the verifier rebuilds it, by the library's builder; (None, why) when it cannot be."""
    request = _parse(facts, profiles)
    if isinstance(request, SignatureCheck):
        return None, request.reason
    chosen = [c for c in request.candidates if c.label == label] or list(request.candidates)
    candidate = chosen[0]
    builder = _Verifier(signature_algorithm=algorithms.ED25519, key_resolver=None)
    try:
        base, _, _ = builder._build_signature_base(
            _message(facts, candidate),
            covered_component_ids=list(candidate.sig_input),
            signature_params=candidate.sig_input.params,
        )
    except Exception as exc:  # the library says which component it could not resolve
        return None, f"The signature base cannot be built: {_short(exc)}."
    return str(base), ""


def replay_key(keyid: str, nonce: object, signature: bytes) -> str:
    """The fixed-length key a used signature is remembered by: a SHA-256 digest, in hex.

    Keyed on the signer's nonce when there is one (so the same nonce is refused on any other
    request too), else on the signature's bytes. A digest keeps every nonce length storable.
    """
    # The digest of the key stored before migration 0009, which rewrote those rows the same way.
    if isinstance(nonce, str) and nonce:
        source = f"n:{keyid}:{nonce}"
    else:
        source = f"s:{hashlib.sha256(signature).hexdigest()}"
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def _claim(
    result: SignatureCheck, candidate: _Candidate, state: NonceCache | None, bounds: _Bounds
) -> SignatureCheck:
    """Claim the valid signature's nonce across every worker; a second claim is a replay."""
    assert result.keyid is not None  # a valid signature always has its keyid
    key = replay_key(result.keyid, candidate.params.get("nonce"), candidate.signature)
    expires = candidate.params["expires"]
    try:
        seen = state is not None and state.nonce_seen(
            key, max(1.0, expires - bounds.now + bounds.max_skew_s)
        )
    except Exception as exc:  # e.g. the database behind the shared state is down
        raise ReplayStoreUnavailable(f"the nonce store failed: {type(exc).__name__}") from exc
    if not seen:
        return result
    return replace(
        result,
        status="invalid",
        code="replayed",
        agent=None,
        reason="This signature (nonce) was already used; sign each request with a fresh nonce.",
    )


def _short(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:160]


def _agent_value(agent: SignatureAgent, candidate: _Candidate) -> str | None:
    """The Signature-Agent URL this signature covers (never a member it does not cover)."""
    if agent.form == "string":
        return agent.value
    if agent.form != "dictionary":
        return None
    keys = _agent_keys(candidate)
    if keys:
        key = candidate.label if candidate.label in keys else keys[0]
        return agent.member(key)
    # The whole header is covered: the member keyed by this signature's label, if any.
    return agent.member(candidate.label)
