"""Where shared state lives: the interface of a store, and what every store shares."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from marketplace.core.shared.session_signals import SessionSignals

POLICY_KEY = "policy"
PARTNERS_KEY = "partners"
SIGNAL_RETENTION_S = 24 * 3600


class Store(Protocol):
    """Where shared state lives; every method is one short round-trip."""

    def claim_nonce(self, key: str, now: float, ttl_s: float) -> bool: ...
    def add_counts(
        self,
        deltas: dict[tuple[str, int], int],
        expires: dict[tuple[str, int], float],
        also_read: Iterable[tuple[str, int]] = (),
    ) -> dict[tuple[str, int], int]: ...
    def merge_signals(self, deltas: dict[str, SessionSignals]) -> dict[str, SessionSignals]: ...
    def fetch_signals(self, ids: Sequence[str]) -> dict[str, SessionSignals]: ...
    def read_versions(self) -> dict[str, int]: ...
    def read_value(self, name: str) -> tuple[int, str | None]: ...
    def write_value(self, name: str, value: str | None, now: datetime) -> int: ...
    def purge(self, now: float) -> None: ...
    def close(self) -> None: ...


def chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
