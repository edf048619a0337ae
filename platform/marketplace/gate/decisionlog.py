"""The decision log: every decision queued in memory and written in batches by one thread.

A request never waits on the database for its log row. The writer drains the queue every
`interval_s` (or sooner when a batch fills up); `flush()` writes everything queued so far and is
registered as a shutdown hook, so a clean shutdown loses nothing. The thread stops by itself after
a while without traffic and starts again with the next decision, so an app that is dropped without
a shutdown leaves no thread polling a database that may be gone.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import SQLAlchemyError

from marketplace.core.db import Database
from marketplace.core.lru import LRU
from marketplace.core.tick import BackgroundTick
from marketplace.gate.identity.escalation import AccountResolver
from marketplace.gate.models import GateDecision

log = logging.getLogger(__name__)

BATCH_SIZE = 500
MAX_QUEUE = 200_000  # beyond this (a database down for long) rows are dropped, and counted
# Credentials whose account is remembered: keyed by a digest, so about 150 bytes each.
REMEMBERED_CREDENTIALS = 10_000


def session_hash(session_id: str | None) -> str | None:
    """What the log keeps of a session cookie: enough to group requests, useless to log in."""
    if not session_id:
        return None
    return hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()[:32]


class DecisionLog:
    """Queue plus background writer for `gate_decisions` rows."""

    def __init__(
        self,
        database: Database,
        *,
        interval_s: float = 0.25,
        resolve_account: AccountResolver | None = None,
        housekeeping: Callable[[], object] | None = None,
    ) -> None:
        self.database = database
        self.interval_s = interval_s
        self.resolve_account = resolve_account
        # Other background upkeep (pruning old rows) rides on this writer's tick, off requests.
        self.housekeeping = housekeeping
        self._queue: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._write_lock = threading.Lock()
        self._ticker = BackgroundTick(
            "gate-decision-log",
            self._tick,
            interval_s=interval_s,
            has_work=lambda: not self._queue.empty(),
        )
        self.dropped = 0
        self.written = 0
        # Digest of the cookie and token -> account id, or 0 for credentials that belong to no
        # account (an anonymous visitor's cookie, an expired token): most logged requests are
        # anonymous, and asking the database again for each of their rows cost more than
        # writing the rows. Keyed by a digest, so a client's credentials of any size cost the
        # same few bytes.
        self._accounts: LRU[bytes, int] = LRU(REMEMBERED_CREDENTIALS)

    def record(
        self, row: dict[str, Any], *, cookie: str | None = None, bearer: str | None = None
    ) -> None:
        """Queue one row; `cookie`/`bearer` let the writer find the account (never stored)."""
        if self._queue.qsize() >= MAX_QUEUE:
            self.dropped += 1
            return
        if row.get("account_id") is None and (cookie or bearer) and self.resolve_account:
            row["_auth"] = (cookie, bearer)
        self._queue.put(row)
        if self._queue.qsize() >= BATCH_SIZE:
            self._ticker.wake()
        self._ticker.ensure_running()

    def _tick(self) -> int:
        written = self.flush()
        if self.housekeeping is not None:
            self.housekeeping()
        return written

    def flush(self) -> int:
        """Write every queued row now; returns how many were written."""
        total = 0
        with self._write_lock:
            while True:
                batch: list[dict[str, Any]] = []
                while len(batch) < BATCH_SIZE:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                if not batch:
                    return total
                self._write(batch)
                total += len(batch)

    def _write(self, batch: list[dict[str, Any]]) -> None:
        for row in batch:
            auth = row.pop("_auth", None)
            if auth is not None:
                row["account_id"] = self._account_for(*auth)
        try:
            with self.database.engine.begin() as conn:
                conn.execute(insert(GateDecision), batch)
            self.written += len(batch)
        except SQLAlchemyError as exc:
            self.dropped += len(batch)
            log.warning("could not write %d gate decisions: %s", len(batch), exc)

    def _account_for(self, cookie: str | None, bearer: str | None) -> int | None:
        key = _credentials_digest(cookie, bearer)
        known = self._accounts.get(key)
        if known is not None:
            return known or None
        assert self.resolve_account is not None
        try:
            account_id = self.resolve_account(cookie, bearer)
        except Exception:
            log.exception("could not resolve the account of a logged decision")
            return None
        self._accounts.put(key, account_id or 0)
        return account_id

    def close(self) -> None:
        """Stop the writer and write what is left (the app's shutdown hook)."""
        self._ticker.close()
        self.flush()


def _credentials_digest(cookie: str | None, bearer: str | None) -> bytes:
    """One key for the pair the account was resolved from (both credentials count)."""
    raw = f"{len(cookie or '')}:{cookie or ''}|{bearer or ''}"
    return hashlib.blake2b(raw.encode("utf-8", "replace"), digest_size=16).digest()


def new_row(**fields: Any) -> dict[str, Any]:
    """A log row with the columns' limits applied."""
    row = dict(fields)
    for name, limit in (("path", 512), ("raw_path", 512), ("user_agent", 512), ("agent", 128)):
        value = row.get(name)
        if isinstance(value, str) and len(value) > limit:
            row[name] = value[:limit]
    at = row.get("at")
    assert isinstance(at, datetime)
    return row
