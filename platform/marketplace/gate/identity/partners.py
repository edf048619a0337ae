"""The partner registry: outside agents' public keys, registered at runtime, and the keyring.

Registrations are committed in their own short transaction and then announced through the shared
state's partner version, so every worker rebuilds its keyring on its next tick (well within a
second). The keyring itself is rebuilt only when that version or the policy's partner list changes;
the hot path reads a ready-made mapping.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace.core.db import Database
from marketplace.core.errors import Conflict, NotFound, Unprocessable
from marketplace.core.shared.state import SharedState
from marketplace.gate.identity.keys import (
    PLATFORM_OWNER,
    JWKError,
    KeyEntry,
    Keyring,
    jwk_thumbprint,
    parse_public_jwk,
    public_jwk,
)
from marketplace.gate.identity.models import GatePartner, GatePartnerKey

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_KEYS_PER_PARTNER = 10
# Members a public Ed25519 JWK may carry; anything else is dropped before storing.
_PUBLIC_MEMBERS = ("kty", "crv", "x", "kid", "use", "alg", "nbf", "exp")


# --- Bodies -------------------------------------------------------------------------------


class PartnerKeysAdd(BaseModel):
    """`{"jwk": {...}}` for one key, or `{"jwks": {"keys": [...]}}`."""

    model_config = ConfigDict(extra="forbid")

    jwk: dict[str, Any] | None = Field(default=None, description="One Ed25519 public JWK.")
    jwks: dict[str, Any] | None = Field(default=None, description='A JWK set: {"keys": [...]}.')

    @model_validator(mode="after")
    def _one_form(self) -> PartnerKeysAdd:
        if (self.jwk is None) == (self.jwks is None):
            raise ValueError(
                "send exactly one of 'jwk' (one public key) or 'jwks' ({\"keys\": [...]})"
            )
        return self

    def key_list(self) -> list[Any]:
        if self.jwk is not None:
            return [self.jwk]
        keys = (self.jwks or {}).get("keys")
        if not isinstance(keys, list) or not keys:
            raise Unprocessable(
                "Field 'jwks': must be {\"keys\": [...]} with at least one public JWK.",
                type_slug="invalid-jwk",
            )
        return keys


class PartnerCreate(PartnerKeysAdd):
    """`{"name": ..., "jwk": {...}}` for one key, or `{"name": ..., "jwks": {"keys": [...]}}`."""

    name: str = Field(
        min_length=1,
        max_length=64,
        pattern=NAME_RE.pattern,
        description="Letters, digits, '.', '_' or '-'; starts with a letter or digit.",
        examples=["acme-shopper"],
    )


class PartnerKeyOut(BaseModel):
    keyid: str = Field(description="The JWK thumbprint (RFC 7638); sign with it as `keyid`.")
    jwk: dict[str, Any]


class PartnerOut(BaseModel):
    name: str
    created_at: datetime
    keys: list[PartnerKeyOut]


# --- Service ------------------------------------------------------------------------------


def validate_jwks(keys: Sequence[Any]) -> list[tuple[str, dict[str, Any]]]:
    """(thumbprint, public JWK) per key, or a 422 naming the key and what to change."""
    if len(keys) > MAX_KEYS_PER_PARTNER:
        raise Unprocessable(
            f"At most {MAX_KEYS_PER_PARTNER} keys per partner; send fewer.",
            type_slug="invalid-jwk",
        )
    out: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()
    for index, key in enumerate(keys):
        where = "jwk" if len(keys) == 1 else f"jwks.keys[{index}]"
        try:
            parse_public_jwk(key)
        except JWKError as exc:
            private = isinstance(key, Mapping) and "d" in key
            raise Unprocessable(
                f"Field '{where}': {exc}",
                type_slug="private-key-refused" if private else "invalid-jwk",
                field=where,
            ) from exc
        public = {k: key[k] for k in _PUBLIC_MEMBERS if k in key}
        keyid = jwk_thumbprint(public)
        public["kid"] = keyid
        if keyid not in seen:
            seen.add(keyid)
            out.append((keyid, public))
    return out


def _to_out(partner: GatePartner) -> PartnerOut:
    return PartnerOut(
        name=partner.name,
        created_at=partner.created_at,
        keys=[PartnerKeyOut(keyid=k.keyid, jwk=dict(k.jwk)) for k in partner.keys],
    )


class PartnerRegistry:
    """CRUD on registered partners plus the keyring every worker verifies signatures against."""

    def __init__(
        self,
        database: Database,
        state: SharedState,
        platform_key: Ed25519PublicKey | None,
    ) -> None:
        self.database = database
        self.state = state
        self.platform_key = platform_key
        self.platform_keyid = jwk_thumbprint(public_jwk(platform_key)) if platform_key else None
        self._lock = threading.Lock()
        self._registry_version = -1
        self._registry_entries: tuple[KeyEntry, ...] = ()
        self._cache: tuple[int, tuple[Any, ...], Keyring] | None = None
        self._policy_cache: tuple[Any, int, Keyring] | None = None

    # -- admin operations -------------------------------------------------------------------

    def list_partners(self) -> list[PartnerOut]:
        with self.database.session() as session:
            partners = session.scalars(select(GatePartner).order_by(GatePartner.name)).all()
            return [_to_out(p) for p in partners]

    def get(self, name: str) -> PartnerOut:
        with self.database.session() as session:
            return _to_out(self._find(session, name))

    def register(
        self,
        body: PartnerCreate,
        *,
        now: datetime,
        keys: list[tuple[str, dict[str, Any]]] | None = None,
    ) -> PartnerOut:
        """Register a partner; `keys` are the body's keys when the caller validated them."""
        keys = keys if keys is not None else validate_jwks(body.key_list())
        self._not_platform(keys)
        try:
            with self.database.session() as session:
                if session.scalar(select(GatePartner.id).where(GatePartner.name == body.name)):
                    raise Conflict(
                        f"A partner named {body.name!r} is registered already; pick another "
                        f"name, add keys with POST /api/v1/partners/{body.name}/keys, or DELETE "
                        f"/api/v1/partners/{body.name} first to replace it.",
                        type_slug="partner-exists",
                    )
                self._not_taken(session, keys)
                partner = GatePartner(name=body.name, created_at=now)
                partner.keys = [GatePartnerKey(keyid=k, jwk=jwk) for k, jwk in keys]
                session.add(partner)
                session.flush()
                out = _to_out(partner)
        except IntegrityError as exc:  # a concurrent registration won the race
            raise Conflict(
                f"Partner {body.name!r} or one of its keys was registered at the same moment; "
                "list the partners and try again.",
                type_slug="partner-exists",
            ) from exc
        self.state.bump_partners_version()
        return out

    def add_keys(self, name: str, body: PartnerKeysAdd) -> PartnerOut:
        """Add keys to a partner (a rotation's first step); keys it holds already are kept."""
        keys = validate_jwks(body.key_list())
        self._not_platform(keys)
        try:
            with self.database.session() as session:
                partner = self._find(session, name)
                have = {k.keyid for k in partner.keys}
                new = [(k, jwk) for k, jwk in keys if k not in have]
                if len(have) + len(new) > MAX_KEYS_PER_PARTNER:
                    raise Conflict(
                        f"Partner {name!r} would hold more than {MAX_KEYS_PER_PARTNER} keys; "
                        f"DELETE /api/v1/partners/{name}/keys/KEYID an old one first.",
                        type_slug="partner-key-limit",
                    )
                self._not_taken(session, new)
                partner.keys.extend(GatePartnerKey(keyid=k, jwk=jwk) for k, jwk in new)
                session.flush()
                out = _to_out(partner)
        except IntegrityError as exc:
            raise Conflict(
                "One of these keys was registered at the same moment; list the partner's keys "
                "and try again.",
                type_slug="partner-key-taken",
            ) from exc
        self.state.bump_partners_version()
        return out

    def delete_key(self, name: str, keyid: str) -> None:
        """Remove one key of a partner (a rotation's last step); its last key stays."""
        with self.database.session() as session:
            partner = self._find(session, name)
            key = next((k for k in partner.keys if k.keyid == keyid), None)
            if key is None:
                raise NotFound(
                    f"Partner {name!r} has no key {keyid!r}; GET /api/v1/partners/{name} lists "
                    "its keys.",
                    type_slug="partner-key-not-found",
                )
            if len(partner.keys) == 1:
                raise Conflict(
                    f"That is the last key of partner {name!r}; add its new key first (POST "
                    f"/api/v1/partners/{name}/keys), or remove the partner.",
                    type_slug="partner-key-last",
                )
            partner.keys.remove(key)
        self.state.bump_partners_version()

    def delete(self, name: str) -> None:
        with self.database.session() as session:
            session.delete(self._find(session, name))
        self.state.bump_partners_version()

    def _find(self, session: Session, name: str) -> GatePartner:
        partner = session.scalar(select(GatePartner).where(GatePartner.name == name))
        if partner is None:
            raise NotFound(
                f"No partner named {name!r}; GET /api/v1/partners lists the registered ones.",
                type_slug="partner-not-found",
            )
        return partner

    def _not_platform(self, keys: list[tuple[str, dict[str, Any]]]) -> None:
        if self.platform_keyid and any(keyid == self.platform_keyid for keyid, _ in keys):
            raise Conflict(
                "That is the platform's own public key; a partner must register its own key.",
                type_slug="partner-key-taken",
            )

    def _not_taken(self, session: Session, keys: list[tuple[str, dict[str, Any]]]) -> None:
        if not keys:
            return
        taken = session.execute(
            select(GatePartnerKey.keyid, GatePartner.name)
            .join(GatePartner, GatePartner.id == GatePartnerKey.partner_id)
            .where(GatePartnerKey.keyid.in_([k for k, _ in keys]))
        ).first()
        if taken is not None:
            raise Conflict(
                f"Key {taken[0]} is registered to partner {taken[1]!r} already; one key "
                "belongs to one partner.",
                type_slug="partner-key-taken",
            )

    # -- the keyring ------------------------------------------------------------------------

    def keyring(self, policy_partners: Iterable[tuple[str, Mapping[str, Any]]] = ()) -> Keyring:
        """Platform key, then the policy's partners, then the registry; cached until a change."""
        version = self.state.partners_version()
        policy_key = tuple(
            (name, tuple(sorted((str(k), str(v)) for k, v in jwk.items())))
            for name, jwk in policy_partners
        )
        cached = self._cache
        if cached is not None and cached[0] == version and cached[1] == policy_key:
            return cached[2]
        with self._lock:
            if self._registry_version != version:
                self._registry_entries = self._load_registry()
                self._registry_version = version
            base = Keyring.build(
                self.platform_key,
                [(name, dict(items)) for name, items in policy_key],
            )
            ring = Keyring([*base.values(), *self._registry_entries])
            self._cache = (version, policy_key, ring)
            return ring

    def keyring_for_policy(self, policy: Any) -> Keyring:
        """The keyring for a policy object whose `partners` lists keys (or holds them as
        `partners.registered`); cached per policy object."""
        version = self.state.partners_version()
        cached = self._policy_cache
        if cached is not None and cached[0] is policy and cached[1] == version:
            return cached[2]
        partners = getattr(policy, "partners", None)
        ring = self.keyring(policy_partner_keys(getattr(partners, "registered", partners) or ()))
        self._policy_cache = (policy, version, ring)
        return ring

    def _load_registry(self) -> tuple[KeyEntry, ...]:
        entries: list[KeyEntry] = []
        # A signed request waits for this read: through the reader, it never queues behind
        # request transactions for SQLite's write lock.
        with self.database.reader() as connection:
            rows = connection.execute(
                select(GatePartner.name, GatePartnerKey.keyid, GatePartnerKey.jwk)
                .join(GatePartner, GatePartner.id == GatePartnerKey.partner_id)
                .order_by(GatePartnerKey.id)
            ).all()
        for name, keyid, jwk in rows:
            try:
                entries.append(KeyEntry(keyid, parse_public_jwk(jwk), name))
            except JWKError:
                continue
        return tuple(entries)


def policy_partner_keys(partners: Iterable[Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """Flatten policy partner entries (with `.name` and `.keys()`) into (name, jwk) pairs."""
    out: list[tuple[str, Mapping[str, Any]]] = []
    for partner in partners:
        try:
            keys = partner.keys()
        except (ValueError, AttributeError):
            continue
        out.extend((str(partner.name), key) for key in keys if isinstance(key, Mapping))
    return out


__all__ = [
    "PLATFORM_OWNER",
    "PartnerCreate",
    "PartnerKeysAdd",
    "PartnerOut",
    "PartnerRegistry",
    "policy_partner_keys",
    "validate_jwks",
]
