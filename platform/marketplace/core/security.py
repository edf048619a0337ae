"""Tokens, signed cookies and CSRF: small primitives shared by the storefront and the API."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from itsdangerous import BadSignature, URLSafeTimedSerializer

from marketplace.core.lru import LRU

SESSION_COOKIE = "nile_session"
VERIFIED_COOKIES = 50_000


def new_token() -> str:
    """A fresh unguessable token (256 bits)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """What the database keeps of a token: its SHA-256, so a leaked table opens no session."""
    return hashlib.sha256(token.encode()).hexdigest()


def client_fingerprint(address: str | None, user_agent: str | None) -> str:
    """Who logged in, as the gate sees a client: its address and user agent, hashed.

    A session remembers the fingerprint of its login, so the gate can tell the client that logged
    in from another one that merely holds the token (docs/workshop.md, "Strikes and suspension").
    """
    # The user agent is cut first: the hash of a megabyte header costs as much as reading it.
    raw = f"{address or '-'}\n{(user_agent or '')[:512]}"
    return hashlib.sha256(raw.encode("utf-8", "replace")).hexdigest()[:32]


class CookieSigner:
    """Signs the session cookie so a client cannot forge or alter it."""

    def __init__(self, secret_key: str, max_age_s: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="session-cookie")
        self._signer = self._serializer.make_signer()
        self._max_age_s = max_age_s
        # A visitor sends the same cookie with every request: checking its HMAC once is enough.
        # Only cookies that verified are kept, each with the moment it stops being valid.
        self._verified: LRU[str, tuple[str, float]] = LRU(VERIFIED_COOKIES)

    def dumps(self, token: str) -> str:
        return self._serializer.dumps(token)

    def loads(self, value: str) -> str | None:
        """The token in a cookie that this signer made less than `max_age_s` ago, or None."""
        known = self._verified.get(value)
        if known is not None:
            token, valid_until = known
            if time.time() <= valid_until:
                return token
            self._verified.pop(value)
            return None
        if not self._canonical(value):
            return None
        try:
            token, signed_at = self._serializer.loads(
                value, max_age=self._max_age_s, return_timestamp=True
            )
        except BadSignature:
            return None
        if not isinstance(token, str):
            return None
        self._verified.put(value, (token, signed_at.timestamp() + self._max_age_s))
        return token

    def _canonical(self, value: str) -> bool:
        """True when the signature is spelled exactly as `dumps` spells it.

        A base64 decoder ignores the spare low bits of the last character and characters
        outside its alphabet, so one signed cookie would have several accepted spellings, each
        a different session to anything that groups requests by the cookie (the gate does).
        """
        head, sep, signature = value.rpartition(".")
        if not sep:
            return False
        expected = self._signer.get_signature(head)
        return hmac.compare_digest(expected, signature.encode("utf-8", "replace"))


def csrf_token(secret_key: str, session_token: str) -> str:
    """The CSRF token of one session: an HMAC of the session token, never stored."""
    return hmac.new(secret_key.encode(), b"csrf:" + session_token.encode(), "sha256").hexdigest()


def csrf_valid(secret_key: str, session_token: str, candidate: str | None) -> bool:
    """Constant-time check of a submitted CSRF token."""
    if not candidate:
        return False
    return hmac.compare_digest(csrf_token(secret_key, session_token), candidate)


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
