"""The verifier against the drafts: Signature-Agent forms, profiles, several signatures, codes."""

from __future__ import annotations

import base64
import secrets
from typing import get_args

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from marketplace.gate.identity.keys import KeyEntry, Keyring
from marketplace.gate.identity.profiles import ProfileName
from marketplace.gate.identity.verify import replay_key, verify_signature
from marketplace.gate.policy.model import PolicyError, SignatureProfile, load_policy_text
from tests.marketplace.gate._signing import thumbprint
from tests.marketplace.gate.test_webbotauth import (
    NOW,
    SKEW,
    VALIDITY,
    MemoryNonces,
    T,
    check,
    facts,
    keyring,
    partner_key,
    signed,
)

__all__ = ["keyring", "partner_key"]  # fixtures, imported for pytest

AGENT = "https://agent.example/.well-known/http-message-signatures-directory"
IETF_COMPONENTS = ("@authority", "signature-agent;key=sig1")


def joined(*signatures: dict[str, str]) -> dict[str, str]:
    """Several signatures on one request, as a signer or intermediaries would combine them."""
    out = dict(signatures[0])
    for name in ("Signature-Input", "Signature"):
        out[name] = ", ".join(s[name] for s in signatures)
    return out


def test_ietf_dictionary_form_with_the_member_covered(partner_key, keyring):
    headers = signed(
        partner_key, components=IETF_COMPONENTS, agent_header=f'sig1="{AGENT}";type=directory'
    )
    assert '"signature-agent";key="sig1"' in headers["Signature-Input"]
    result = check(facts(headers), keyring)
    assert result.valid, result.reason
    assert (result.code, result.profile, result.agent) == ("verified", "ietf", AGENT)


def test_ietf_dictionary_form_with_the_whole_header_covered(partner_key, keyring):
    headers = signed(
        partner_key,
        components=("@authority", "signature-agent"),
        agent_header=f'sig1="{AGENT}"',
    )
    result = check(facts(headers), keyring)
    assert result.valid, result.reason
    assert (result.profile, result.agent) == ("ietf", AGENT)


def test_legacy_string_form(partner_key, keyring):
    headers = signed(partner_key, components=("@authority", "signature-agent"), agent=AGENT)
    assert headers["Signature-Agent"] == f'"{AGENT}"'
    result = check(facts(headers), keyring)
    assert result.valid, result.reason
    assert (result.profile, result.agent) == ("legacy", AGENT)


def test_member_value_changed_after_signing_is_refused(partner_key, keyring):
    headers = signed(partner_key, components=IETF_COMPONENTS, agent_header=f'sig1="{AGENT}"')
    headers["Signature-Agent"] = 'sig1="https://other.example"'
    result = check(facts(headers), keyring)
    assert (result.status, result.code) == ("invalid", "bad-signature")
    assert result.registered


def test_a_covered_member_that_is_missing_is_named(partner_key, keyring):
    headers = signed(partner_key, components=IETF_COMPONENTS, agent_header=f'sig1="{AGENT}"')
    headers["Signature-Agent"] = f'sig2="{AGENT}"'
    result = check(facts(headers), keyring)
    assert result.code == "missing-component"
    assert 'no member "sig1"' in result.reason


def test_signature_agent_that_is_neither_form_is_malformed(partner_key, keyring):
    headers = signed(partner_key, components=("@authority", "signature-agent"), agent=AGENT)
    headers["Signature-Agent"] = "https://agent.example"  # neither a dictionary nor a string
    result = check(facts(headers), keyring)
    assert (result.status, result.code) == ("invalid", "malformed")


def test_target_uri_in_place_of_authority(partner_key, keyring):
    headers = signed(partner_key, components=("@target-uri",), query="q=tent")
    result = check(facts(headers, query="q=tent"), keyring)
    assert result.valid, result.reason
    assert result.covers("@target-uri")


def test_target_uri_for_another_host_is_refused(partner_key, keyring):
    headers = signed(partner_key, components=("@target-uri",), authority="elsewhere.example")
    result = check(facts(headers), keyring)
    assert (result.status, result.code) == ("invalid", "bad-signature")


def test_neither_authority_nor_target_uri_is_a_missing_component(partner_key, keyring):
    result = check(facts(signed(partner_key, components=("@method", "@path"))), keyring)
    assert result.code == "missing-component"
    assert "@target-uri" in result.reason


def test_two_valid_signatures_are_validated_independently(partner_key, keyring):
    other = Ed25519PrivateKey.generate()
    ring = Keyring([*keyring.values(), KeyEntry(thumbprint(other), other.public_key(), "other")])
    headers = joined(
        signed(partner_key, label="a", nonce="n-a"), signed(other, label="b", nonce="n-b")
    )
    nonces = MemoryNonces()
    result = check(facts(headers), ring, nonces)
    assert result.valid, result.reason
    assert (result.label, result.owner, result.signatures) == ("a", "acme", 2)
    # Both nonces are claimed: neither signature can be lifted off and replayed on its own.
    alone = signed(other, label="b", nonce="n-b")
    assert check(facts(alone), ring, nonces).code == "replayed"


def test_an_unknown_signer_beside_a_known_one_does_not_spoil_it(partner_key, keyring):
    stranger = Ed25519PrivateKey.generate()
    headers = joined(signed(stranger, label="outer"), signed(partner_key, label="inner"))
    result = check(facts(headers), keyring)
    assert result.valid, result.reason
    assert (result.label, result.owner) == ("inner", "acme")


def test_when_none_holds_the_registered_keys_failure_is_reported(partner_key, keyring):
    stranger = Ed25519PrivateKey.generate()
    expired = signed(partner_key, label="b", created=T - 600, expires=T - SKEW - 1)
    result = check(facts(joined(signed(stranger, label="a"), expired)), keyring)
    assert (result.status, result.code, result.label) == ("invalid", "expired", "b")
    assert result.registered
    assert result.attributable


def test_more_signatures_than_the_limit_are_refused(partner_key, keyring):
    many = [signed(partner_key, label=f"s{i}", nonce=f"n{i}") for i in range(5)]
    result = check(facts(joined(*many)), keyring)
    assert result.code == "malformed"
    assert "at most 4" in result.reason


def test_a_signature_of_another_application_is_ignored(partner_key, keyring):
    headers = joined(signed(partner_key, tag="someone-else", label="x"), signed(partner_key))
    result = check(facts(headers), keyring)
    assert result.valid, result.reason
    assert result.signatures == 1


@pytest.mark.parametrize(
    ("mistake", "code", "registered"),
    [
        ({"created": T + SKEW + 5, "expires": T + SKEW + 65}, "not-yet-valid", True),
        ({"created": T - 600, "expires": T - SKEW - 1}, "expired", True),
        ({"expires": T + VALIDITY + 1}, "too-long", True),
        ({"tag": "not-web-bot-auth"}, "wrong-tag", False),
        ({"components": ("@method",)}, "missing-component", True),
        ({"keyid": "not-registered"}, "unknown-key", False),
        ({"alg": "hmac-sha256"}, "malformed", True),
        ({"path": "/somewhere/else"}, "bad-signature", True),
    ],
)
def test_every_status_has_its_code(partner_key, keyring, mistake, code, registered):
    result = check(facts(signed(partner_key, **mistake)), keyring)
    assert (result.status, result.code) == ("invalid", code), result.reason
    assert result.registered is registered
    assert result.attributable is registered


def test_replay_has_its_code_and_keeps_the_owner(partner_key, keyring):
    nonces = MemoryNonces()
    headers = signed(partner_key)
    assert check(facts(headers), keyring, nonces).code == "verified"
    again = check(facts(headers), keyring, nonces)
    assert (again.code, again.owner, again.registered) == ("replayed", "acme", True)


# --- profiles -----------------------------------------------------------------------------


def verify(headers: dict[str, str], ring: Keyring, *profiles: str, path: str = "/api/v1/products"):  # type: ignore[no-untyped-def]
    return verify_signature(
        facts(headers, path=path),
        keyring=ring,
        state=MemoryNonces(),
        now=NOW,
        max_skew_s=SKEW,
        max_validity_s=3600,
        profiles=profiles,  # type: ignore[arg-type]
    )


def test_a_policy_without_legacy_refuses_the_bare_string_and_says_why(partner_key, keyring):
    legacy = signed(partner_key, components=("@authority", "signature-agent"), agent=AGENT)
    result = verify(legacy, keyring, "ietf")
    assert (result.status, result.code) == ("invalid", "malformed")
    assert "legacy" in result.reason
    assert "dictionary form" in result.reason
    ietf = signed(partner_key, components=IETF_COMPONENTS, agent_header=f'sig1="{AGENT}"')
    assert verify(ietf, keyring, "ietf").valid


def test_a_policy_without_ietf_refuses_the_dictionary_form(partner_key, keyring):
    ietf = signed(partner_key, components=IETF_COMPONENTS, agent_header=f'sig1="{AGENT}"')
    assert verify(ietf, keyring, "legacy").code == "wrong-tag"
    # Without Signature-Agent a web-bot-auth signature belongs to whichever form is accepted.
    assert verify(signed(partner_key), keyring, "legacy").valid


def tap(key: Ed25519PrivateKey, **kwargs: object) -> dict[str, str]:
    args: dict[str, object] = {
        "tag": "agent-browser-auth",
        "components": ("@authority", "@path"),
        "nonce": base64.urlsafe_b64encode(secrets.token_bytes(64)).decode(),
    }
    args.update(kwargs)
    return signed(key, **args)


def test_visa_tap_signatures_need_the_profile(partner_key, keyring):
    assert verify(tap(partner_key), keyring, "ietf", "legacy").code == "wrong-tag"
    for tag in ("agent-browser-auth", "agent-payer-auth"):
        result = verify(tap(partner_key, tag=tag), keyring, "visa-tap")
        assert result.valid, result.reason
        assert result.profile == "visa-tap"


def test_visa_tap_requires_a_nonce_the_page_and_at_most_eight_minutes(partner_key, keyring):
    no_nonce = verify(tap(partner_key, nonce=None), keyring, "visa-tap")
    assert (no_nonce.code, no_nonce.registered) == ("malformed", True)
    assert "nonce" in no_nonce.reason
    no_path = verify(tap(partner_key, components=("@authority",)), keyring, "visa-tap")
    assert no_path.code == "missing-component"
    assert verify(tap(partner_key, expires=T + 480), keyring, "visa-tap").valid
    too_long = verify(tap(partner_key, expires=T + 481), keyring, "visa-tap")
    assert too_long.code == "too-long"
    assert "at most 480 s" in too_long.reason
    # The same window is fine for an IETF signature, whose bound is the policy's.
    assert verify(signed(partner_key, expires=T + 481), keyring, "ietf").valid


def test_web_bot_auth_stays_accepted_beside_visa_tap(partner_key, keyring):
    assert verify(signed(partner_key), keyring, "ietf", "visa-tap").valid


# --- the replay key -----------------------------------------------------------------------


@pytest.mark.parametrize("size", [16, 64, 96, 128, 1024])
def test_replay_keys_have_one_length_whatever_the_nonce(size):
    nonce = base64.urlsafe_b64encode(secrets.token_bytes(size)).decode()
    key = replay_key("k" * 43, nonce, b"sig")
    assert len(key) == 64
    assert key == replay_key("k" * 43, nonce, b"other signature bytes")
    assert key != replay_key("j" * 43, nonce, b"sig")
    assert len(replay_key("k" * 43, None, b"sig")) == 64


# --- the policy field ---------------------------------------------------------------------


def test_the_policy_names_its_profiles_strictly():
    assert get_args(SignatureProfile) == get_args(ProfileName)
    base = "extends: open\nname: p\nsignatures:\n  profiles: "
    assert load_policy_text("extends: open\nname: p\n").signatures.profiles == ("ietf", "legacy")
    chosen = load_policy_text(base + "[ietf, visa-tap]\n").signatures.profiles
    assert chosen == ("ietf", "visa-tap")
    for wrong, says in (
        ("[ietf, mastercard]", "visa-tap"),
        ("[]", "at least 1"),
        ("[ietf, ietf]", "once"),
    ):
        with pytest.raises(PolicyError) as raised:
            load_policy_text(base + wrong + "\n")
        problem = raised.value.first
        assert "signatures.profiles" in str(problem), problem
        assert says in str(problem), problem
