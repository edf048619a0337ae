"""The signature debugger: what the gate makes of a request's Web Bot Auth signature, explained.

The request is either described (method, URL, headers, as an agent sent them elsewhere) or the one
the explanation was asked with. It is verified as the gate verifies, with the active policy's keys,
bounds and profiles, but without claiming its nonce: explaining is not a use, so the described
request can still be sent once afterwards. The signature base is the one the verifier rebuilds,
made by the `http-message-signatures` library's own builder.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator

from marketplace.core.errors import Unprocessable
from marketplace.gate.facts import RequestFacts
from marketplace.gate.identity.keys import Keyring
from marketplace.gate.identity.profiles import ProfileName
from marketplace.gate.identity.verify import SignatureCheck, signature_base, verify_signature

MAX_EXPLAINED_HEADERS = 64
MAX_EXPLAINED_HEADER_CHARS = 8192
NOT_CLAIMED = (
    "This explanation did not claim the nonce and did not look it up: if the request was already "
    "sent, the gate refuses it again as replayed; if not, it can be sent once, until it expires."
)


class DescribedRequest(BaseModel):
    """The request an agent sent, as it sent it."""

    method: str = Field(min_length=1, max_length=16, pattern=r"^[A-Za-z]+$", examples=["GET"])
    url: str = Field(
        min_length=1, max_length=2048, examples=["https://store.example/api/v1/products?q=tent"]
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        max_length=MAX_EXPLAINED_HEADERS,
        description="Header names to values, as sent: Signature, Signature-Input, "
        "Signature-Agent and every header the signature covers.",
    )

    @field_validator("headers")
    @classmethod
    def _bounded(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            if len(name) > 128 or len(value) > MAX_EXPLAINED_HEADER_CHARS:
                raise ValueError(
                    f"header names are at most 128 characters and values at most "
                    f"{MAX_EXPLAINED_HEADER_CHARS}; shorten {name[:40]!r}"
                )
        return headers


class ExplainedKey(BaseModel):
    keyid: str | None
    registered: bool
    owner: str | None = Field(description="`platform` or the partner's name, when registered")
    why_not: str | None = Field(description="Why no key was resolved, when none was")


class SignatureExplanation(BaseModel):
    explained: Literal["described", "this-request"]
    method: str
    url: str
    status: str = Field(description="What X-Signature-Status says for this request")
    reason: str
    verified: bool
    label: str | None
    profile: str | None
    covered: list[str]
    parameters: dict[str, Any]
    key: ExplainedKey
    signature_base: str | None = Field(
        description="The RFC 9421 section 2.5 signature base the verifier rebuilt; the signer "
        "must have signed exactly these bytes"
    )
    signature_base_error: str | None
    nonce: str
    gate_status: str | None = Field(
        default=None,
        description="For this-request: the status the gate gave the request as it passed "
        "(the gate claims a signed request's nonce, as for any request)",
    )


def described_facts(described: DescribedRequest) -> RequestFacts:
    """The facts the gate would have gathered from the described request."""
    parts = urlsplit(described.url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Unprocessable(
            "Field 'url' must be an absolute http(s) URL, e.g. "
            "https://store.example/api/v1/products?q=tent.",
            type_slug="invalid-request",
        )
    headers = tuple((name.lower(), value) for name, value in described.headers.items())
    host = next((value for name, value in headers if name == "host"), None)
    return RequestFacts(
        method=described.method.upper(),
        path=parts.path or "/",
        raw_path=parts.path or "/",
        query=parts.query,
        authority=host or parts.netloc,
        scheme=parts.scheme,
        headers=headers,
        client_ip=None,
        session_id=None,
        route_class="other",
        is_asset=False,
    )


def explain(
    facts: RequestFacts,
    *,
    explained: Literal["described", "this-request"],
    keyring: Keyring,
    now: dt.datetime | float,
    max_skew_s: float,
    max_validity_s: float,
    profiles: tuple[ProfileName, ...],
) -> SignatureExplanation:
    """The signature of `facts`, verified without a nonce store, and the base it was checked on."""
    check = verify_signature(
        facts,
        keyring=keyring,
        state=None,  # nothing is claimed
        now=now,
        max_skew_s=max_skew_s,
        max_validity_s=max_validity_s,
        profiles=profiles,
    )
    base, base_error = (None, "The request carries no signature.")
    if check.status != "absent":
        base, base_error = signature_base(facts, check.label, profiles)
    query = f"?{facts.query}" if facts.query else ""
    return SignatureExplanation(
        explained=explained,
        method=facts.method,
        url=f"{facts.scheme}://{facts.authority}{facts.raw_path}{query}",
        status=check.code,
        reason=check.reason or _reason_of(check),
        verified=check.valid,
        label=check.label,
        profile=check.profile,
        covered=list(check.covered),
        parameters={k: v for k, v in check.params.items() if isinstance(v, str | int)},
        key=_key(check),
        signature_base=base,
        signature_base_error=base_error or None,
        nonce=NOT_CLAIMED if check.valid else "Nothing was claimed.",
    )


def _reason_of(check: SignatureCheck) -> str:
    if check.status == "absent":
        return "The request carries neither Signature nor Signature-Input."
    owner = check.owner or "a registered key"
    return f"The signature holds: it was made by {owner}'s key over exactly this request."


def _key(check: SignatureCheck) -> ExplainedKey:
    if check.keyid is None:
        why = (
            "The request carries no signature."
            if check.status == "absent"
            else "No keyid was read: " + (check.reason or "the signature could not be parsed.")
        )
        return ExplainedKey(keyid=None, registered=False, owner=None, why_not=why)
    if not check.registered:
        return ExplainedKey(
            keyid=check.keyid,
            registered=False,
            owner=None,
            why_not="No key with this keyid (JWK thumbprint) is registered here, and keys are "
            "never fetched from the network; register its public JWK with POST /api/v1/partners.",
        )
    return ExplainedKey(keyid=check.keyid, registered=True, owner=check.owner, why_not=None)
