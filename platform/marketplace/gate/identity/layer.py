"""The gate's identity layer of one app: platform key, keyring, shared state, behaviour, escalation.

Built once by the app factory (`build_identity`); routes reach it through `gate.deps.IdentityDep`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from marketplace.core.db import Database
from marketplace.core.settings import Settings
from marketplace.core.shared.state import SharedState
from marketplace.gate.facts import RequestFacts
from marketplace.gate.identity.beacon_token import BeaconTokens
from marketplace.gate.identity.behaviour import BehaviourTracker
from marketplace.gate.identity.challenge import CHALLENGE_PURPOSE, CHALLENGE_TTL_S
from marketplace.gate.identity.escalation import (
    AccountResolver,
    Escalator,
    OwnerResolver,
    StatusSetter,
    SuspensionGuard,
)
from marketplace.gate.identity.explain import SignatureExplanation, explain
from marketplace.gate.identity.keys import (
    KeyEntry,
    Keyring,
    load_or_create_platform_key,
    parse_public_jwk,
    platform_keyid,
    public_jwks,
)
from marketplace.gate.identity.partners import PartnerRegistry
from marketplace.gate.identity.profiles import DEFAULT_PROFILES
from marketplace.gate.identity.sign import sign_directory_response
from marketplace.gate.identity.verify import SignatureCheck, verify_signature


@dataclass
class Identity:
    """Everything the gate needs to tell who a visitor is."""

    signing_key: Ed25519PrivateKey  # never served, never logged
    keyid: str
    state: SharedState
    partners: PartnerRegistry
    tracker: BehaviourTracker
    escalator: Escalator

    def __repr__(self) -> str:  # keeps the private key out of any log line or traceback
        return f"Identity(keyid={self.keyid!r})"

    def directory(self) -> dict[str, Any]:
        return public_jwks([self.signing_key.public_key()])

    def keyring(self, policy: Any = None) -> Keyring:
        """The keys signatures are checked against: the platform's, the policy's, the registry's."""
        if policy is None:
            return self.partners.keyring()
        return self.partners.keyring_for_policy(policy)

    def verify(
        self, facts: RequestFacts, *, policy: Any, now: dt.datetime | float
    ) -> SignatureCheck:
        """Web Bot Auth for one request, with the policy's partners, bounds and profiles."""
        return self._verify(facts, self.keyring(policy), policy=policy, now=now)

    def verify_holder(
        self,
        facts: RequestFacts,
        keys: list[tuple[str, dict[str, Any]]],
        owner: str,
        *,
        policy: Any,
        now: dt.datetime | float,
    ) -> SignatureCheck:
        """The request's signature checked against `keys` alone, (keyid, public JWK) pairs not
        registered yet: valid proves the sender holds one of them (self-service registration).
        The nonce is claimed as for any valid signature."""
        ring = Keyring(KeyEntry(keyid, parse_public_jwk(jwk), owner) for keyid, jwk in keys)
        return self._verify(facts, ring, policy=policy, now=now)

    def _verify(
        self, facts: RequestFacts, keyring: Keyring, *, policy: Any, now: dt.datetime | float
    ) -> SignatureCheck:
        return verify_signature(
            facts, keyring=keyring, state=self.state, now=now, **_bounds(policy)
        )

    def explain(
        self,
        facts: RequestFacts,
        *,
        explained: Literal["described", "this-request"],
        policy: Any,
        now: dt.datetime | float,
    ) -> SignatureExplanation:
        """The signature debugger: verified as `verify` does, without claiming the nonce."""
        return explain(
            facts, explained=explained, keyring=self.keyring(policy), now=now, **_bounds(policy)
        )

    def sign_directory(
        self, url: str, body: bytes, *, now: dt.datetime, nonce: str
    ) -> dict[str, str]:
        """Content-Digest and signature headers for the key directory response."""
        return sign_directory_response(
            url, body, private_key=self.signing_key, keyid=self.keyid, now=now, nonce=nonce
        )


def _bounds(policy: Any) -> dict[str, Any]:
    """The policy's signature bounds and profiles (the identity layer never imports the policy)."""
    bounds = getattr(policy, "signatures", None)
    return {
        "max_skew_s": float(getattr(bounds, "max_clock_skew_s", 60)),
        "max_validity_s": float(getattr(bounds, "max_validity_s", 3600)),
        "profiles": tuple(getattr(bounds, "profiles", DEFAULT_PROFILES)),
    }


def build_identity(
    settings: Settings,
    database: Database,
    state: SharedState,
    *,
    resolve_account: AccountResolver,
    resolve_owner: OwnerResolver,
    set_account_status: StatusSetter,
    may_suspend: SuspensionGuard | None = None,
) -> Identity:
    """The identity layer of one app; generates the platform key on the first start."""
    key = load_or_create_platform_key(settings.resolved_signing_key_file)
    escalator = Escalator(
        database,
        resolve_account=resolve_account,
        resolve_owner=resolve_owner,
        set_account_status=set_account_status,
        may_suspend=may_suspend,
    )
    state.add_tick_hook(escalator.process)
    return Identity(
        signing_key=key,
        keyid=platform_keyid(key),
        state=state,
        partners=PartnerRegistry(database, state, key.public_key()),
        tracker=BehaviourTracker(
            state,
            tokens=BeaconTokens(settings.secret_key),
            challenges=BeaconTokens(
                settings.secret_key, ttl_s=CHALLENGE_TTL_S, purpose=CHALLENGE_PURPOSE
            ),
        ),
        escalator=escalator,
    )


__all__ = ["Identity", "build_identity"]
