"""The signature profiles a policy may accept, and the `Signature-Agent` header in both its forms.

- `ietf`: Web Bot Auth as the IETF working group drafts it (draft-ietf-webbotauth-httpsig-protocol):
  tag `web-bot-auth`; `Signature-Agent`, when sent, is a structured-field dictionary
  (`sig1="https://agent.example"`, a `type=directory` parameter allowed) whose member the signature
  covers as `"signature-agent";key="sig1"` (or the whole header as `"signature-agent"`).
- `legacy`: the earlier form that Cloudflare's verifier and npm `web-bot-auth` 0.1.x still send:
  tag `web-bot-auth`, `Signature-Agent` a bare string (`"https://agent.example"`) covered whole.
- `visa-tap`: Visa's Trusted Agent Protocol, which profiles the same RFC 9421 signatures: tag
  `agent-browser-auth` (browsing) or `agent-payer-auth` (paying), a nonce on every signature, at
  most 8 minutes between `created` and `expires`, and the page bound (`@path` or `@target-uri`).

A signature without `Signature-Agent` belongs to `ietf` or `legacy`, whichever the policy accepts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from http_sf.compat import Dictionary, Item

from marketplace.gate.identity.httpsig import TAG

# The policy model lists the same names (SignatureProfile); the two parts do not import each other.
ProfileName = Literal["ietf", "legacy", "visa-tap"]

DEFAULT_PROFILES: tuple[ProfileName, ...] = ("ietf", "legacy")
TAP_TAGS = ("agent-browser-auth", "agent-payer-auth")
# Visa's merchant specification: a signature is valid for at most 8 minutes.
TAP_MAX_VALIDITY_S = 8 * 60


@dataclass(frozen=True)
class Profile:
    """What one profile requires of a signature beyond RFC 9421 and the policy's bounds."""

    name: ProfileName
    tags: tuple[str, ...]
    nonce_required: bool = False
    max_validity_s: float | None = None
    # Components of which at least one binds the signature to the page, when required.
    page_bound: bool = False


PROFILES: dict[ProfileName, Profile] = {
    "ietf": Profile("ietf", (TAG,)),
    "legacy": Profile("legacy", (TAG,)),
    "visa-tap": Profile(
        "visa-tap",
        TAP_TAGS,
        nonce_required=True,
        max_validity_s=TAP_MAX_VALIDITY_S,
        page_bound=True,
    ),
}

AgentForm = Literal["absent", "dictionary", "string", "invalid"]


@dataclass(frozen=True)
class SignatureAgent:
    """The request's `Signature-Agent` header, parsed once: its form and its URL members."""

    form: AgentForm
    raw: str | None = None
    members: tuple[tuple[str, str], ...] = ()  # (key, URL) of the dictionary form
    value: str | None = None  # the URL of the bare string form

    def member(self, key: str) -> str | None:
        return next((url for name, url in self.members if name == key), None)


def parse_signature_agent(raw: str | None) -> SignatureAgent:
    """The header in the dictionary form (the drafts), the bare string form (legacy), or invalid.

    The two forms are told apart as the draft says: a String Item begins with a double quote, a
    dictionary member key cannot.
    """
    if raw is None:
        return SignatureAgent("absent")
    text = raw.strip()
    if not text.isascii():
        return SignatureAgent("invalid", raw)
    try:
        if text.startswith('"'):
            item = Item()
            item.parse(text.encode("ascii"))
            if not isinstance(item.value, str):
                return SignatureAgent("invalid", raw)
            return SignatureAgent("string", raw, value=item.value)
        dictionary = Dictionary()
        dictionary.parse(text.encode("ascii"))
    except (ValueError, TypeError, UnicodeError):
        return SignatureAgent("invalid", raw)
    members = tuple(
        (key, member.value)
        for key, member in dictionary.data.items()
        if isinstance(member, Item) and isinstance(member.value, str)
    )
    if len(members) != len(dictionary.data):
        return SignatureAgent("invalid", raw)
    return SignatureAgent("dictionary", raw, members=members)


def profile_of(
    tag: object, agent: SignatureAgent, accepted: tuple[ProfileName, ...]
) -> ProfileName | None:
    """The profile a signature with this tag and this `Signature-Agent` claims; None if none."""
    if tag == TAG:
        if agent.form == "absent" and "ietf" not in accepted and "legacy" in accepted:
            return "legacy"
        return "legacy" if agent.form == "string" else "ietf"
    if tag in TAP_TAGS:
        return "visa-tap"
    return None


def accepted_tags(profiles: tuple[ProfileName, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(tag for name in profiles for tag in PROFILES[name].tags))
