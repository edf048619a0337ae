"""Session tokens known to belong to no account, so anonymous visitors cost no account lookup.

Most requests come from anonymous visitors, whose cookie holds a token that no account owns.
Remembering those is safe because a token never gains an account later: logging in always issues
a brand-new token (`accounts.service.start_session`). Tokens that do belong to an account are
never cached, so logging out or expiry takes effect on the very next request in every worker.
"""

from __future__ import annotations

from marketplace.core.lru import LRU

# Bounded (its size per worker is in docs/benchmarks.md), and the oldest are forgotten first.
MAX_REMEMBERED = 50_000


class AnonymousTokens:
    """A bounded, thread-safe set of token hashes that no account owns."""

    def __init__(self, capacity: int = MAX_REMEMBERED) -> None:
        self._hashes: LRU[str, bool] = LRU(capacity)

    def __contains__(self, token_hash: object) -> bool:
        return token_hash in self._hashes

    def remember(self, token_hash: str) -> None:
        self._hashes.put(token_hash, True)
