"""Per-page beacon tokens: a beacon counts only when it comes from a page the store served.

Each storefront page carries a token (on its `<script src="/static/beacon.js">` tag): an HMAC of
the session the page was served to, a fresh nonce and the moment it was served. A beacon is
recorded only with a token made for its own session and no older than `TTL_S`; anything else is
ignored. One forged `POST /api/v1/beacon` is then no longer enough to look like a person at a
browser: a script has to fetch the store's pages as a browser would, and those fetches are
themselves evidence. The tokens are checked statelessly, so every worker accepts every worker's.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TTL_S = 6 * 3600  # a page left open longer stops reporting; its session keeps what it had
MAX_SKEW_S = 60  # a token from slightly in the future: another worker's clock
MAX_TOKEN_LENGTH = 128


class BeaconTokens:
    """Issues and checks the tokens that bind a beacon to a page view of one session."""

    def __init__(
        self, secret_key: str, *, ttl_s: float = TTL_S, purpose: bytes = b"beacon-token"
    ) -> None:
        # A key of its own per purpose, so a beacon token is never valid as any other HMAC of
        # the store (the challenge page's tokens are made with another purpose).
        self._key = hmac.new(secret_key.encode(), purpose, hashlib.sha256).digest()
        self.ttl_s = ttl_s

    def _mac(self, session_key: str, nonce: str, issued: int) -> str:
        message = f"{session_key}|{nonce}|{issued}".encode("utf-8", "replace")
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]

    def issue(self, session_key: str, now: float) -> str:
        """A token for one page served to the session `session_key` at `now`."""
        issued = int(now)
        nonce = secrets.token_urlsafe(9)
        return f"{issued:x}.{nonce}.{self._mac(session_key, nonce, issued)}"

    def valid(self, token: str | None, session_key: str, now: float) -> bool:
        """True for a token issued to `session_key` within the last `ttl_s` seconds."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return False
        parts = token.split(".")
        if len(parts) != 3:
            return False
        stamp, nonce, mac = parts
        try:
            issued = int(stamp, 16)
        except ValueError:
            return False
        if not now - self.ttl_s <= issued <= now + MAX_SKEW_S:
            return False
        return hmac.compare_digest(self._mac(session_key, nonce, issued), mac)
