"""State the gate shares across worker processes: nonces, rate counters, session signals, policy.

The store is the database by default (gate-owned tables, migration 0005) or Redis when
`SANDBOX_REDIS_URL` is set. The gate decides every request without waiting on the store, except
where correctness needs it:

- **Nonces** are claimed synchronously in the store (an insert that fails on a duplicate): a
  signature replayed to another worker must be refused, so only signed requests pay one short write.
  On SQLite that write goes to a file of its own beside the database (`<database>-nonces`), so it
  never queues for the platform database's write lock behind request transactions.
- **Rate counters and session signals** are counted in-process and written behind in batches every
  `flush_interval_s` (0.2 s), merged additively in the store; each flush reads back the merged
  totals. A worker therefore sees the others' traffic up to one interval late, and a burst spread
  over several workers may overshoot a limit by what they count in that interval. That is the
  trade-off for a counter with no round-trip per request.
- **A session's signals** are read from the store synchronously (one primary-key read) when this
  worker has not read them within `SIGNALS_FRESH_S`: on its first sight of the session, or when
  the session comes back after a pause spent on other workers. Otherwise a worker would score a
  shopper who viewed products elsewhere as one who never did. Sessions in use are re-read by the
  tick, so a busy session costs no round-trip; the gate makes such a read off the event loop.
- **The active policy and the partner registry version** are polled by the same background tick, a
  single primary-key read, so a switch through one worker is in force in all of them well within a
  second; the worker that made the switch sees it at once.

Pending writes are flushed on a clean shutdown (the app's shutdown hooks).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sized
from datetime import UTC, datetime

from marketplace.core.clock import Clock, system_clock
from marketplace.core.db import Database
from marketplace.core.shared.database_store import DatabaseStore
from marketplace.core.shared.redis_store import RedisStore
from marketplace.core.shared.session_signals import EMPTY_SIGNALS, SessionSignals
from marketplace.core.shared.store import PARTNERS_KEY, POLICY_KEY, Store
from marketplace.core.tick import BackgroundTick

log = logging.getLogger(__name__)

MAX_CACHED_SESSIONS = 50_000
PURGE_EVERY_S = 30.0
# A session's cached signals older than this are read again before use (see the module doc).
SIGNALS_FRESH_S = 1.0


class SharedState:
    """Per-process front of the shared store: answers from memory, writes behind in batches."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock = system_clock,
        flush_interval_s: float = 0.2,
        background: bool = True,
    ) -> None:
        self.store = store
        self.clock = clock
        self.flush_interval_s = flush_interval_s
        self._background = background
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        # Counters: (bucket, window start) → count.
        self._counts_pending: dict[tuple[str, int], int] = {}
        self._counts_flushing: dict[tuple[str, int], int] = {}
        self._counts_total: dict[tuple[str, int], int] = {}
        self._counts_expires: dict[tuple[str, int], float] = {}
        self._counts_last_batch: set[tuple[str, int]] = set()
        # Session signals: stored totals with the moment (monotonic) each was read (LRU),
        # in-flight and pending deltas.
        self._signals_total: OrderedDict[str, tuple[SessionSignals, float]] = OrderedDict()
        self._signals_fetch_failed_at = -SIGNALS_FRESH_S
        self._signals_pending: dict[str, SessionSignals] = {}
        self._signals_flushing: dict[str, SessionSignals] = {}
        self._signals_wanted: set[str] = set()
        # Versioned values (policy, partner registry).
        self._versions: dict[str, int] = {}
        self._values: dict[str, tuple[int, str | None]] = {}
        self._versions_loaded = False
        self._tick_hooks: list[Callable[[], object]] = []
        self._tick = BackgroundTick(
            "shared-state",
            self._tick_job,
            interval_s=flush_interval_s,
            has_work=self._has_work,
            on_idle_stop=self._forget_versions,
        )
        self._last_purge = time.monotonic()
        self._closed = False

    # -- time ---------------------------------------------------------------------------

    def _now(self) -> float:
        return self.clock().timestamp()

    # -- nonces -------------------------------------------------------------------------

    def nonce_seen(self, key: str, ttl_s: float) -> bool:
        """Claim `key` for `ttl_s` seconds; True when any worker claimed it already (a replay)."""
        return not self.store.claim_nonce(key, self._now(), ttl_s)

    # -- counters -----------------------------------------------------------------------

    def hit(self, bucket: str, window_s: int, *, amount: int = 1) -> int:
        """Count one request in `bucket` and return the count of the current fixed window."""
        self._ensure_started()
        now = self._now()
        window_s = max(1, int(window_s))
        start = int(now // window_s) * window_s
        key = (f"{bucket}|{window_s}", start)
        with self._lock:
            self._counts_pending[key] = self._counts_pending.get(key, 0) + amount
            self._counts_expires[key] = start + 2 * window_s
            return (
                self._counts_total.get(key, 0)
                + self._counts_flushing.get(key, 0)
                + self._counts_pending[key]
            )

    # -- session signals ------------------------------------------------------------------

    def get_session_signals(self, session_id: str) -> SessionSignals:
        """What every worker has recorded for the session, about a second late at most.

        May wait for one read from the store (see `session_signals_stale`).
        """
        self._ensure_started()
        if self.session_signals_stale(session_id):
            self.refresh_session_signals(session_id)
        with self._lock:
            # Whatever is read is re-read from the store on the next tick, so a session's view
            # of the other workers' share is never more than one tick older than its last read.
            self._signals_wanted.add(session_id)
            entry = self._signals_total.get(session_id)
            if entry is None:
                total = EMPTY_SIGNALS
            else:
                total = entry[0]
                self._signals_total.move_to_end(session_id)
            flushing = self._signals_flushing.get(session_id)
            pending = self._signals_pending.get(session_id)
        if flushing is not None:
            total = total.merged(flushing)
        if pending is not None:
            total = total.merged(pending)
        return total

    def session_signals_stale(self, session_id: str) -> bool:
        """True when reading the session's signals now would first wait for the store."""
        now = time.monotonic()
        if now - self._signals_fetch_failed_at < SIGNALS_FRESH_S:
            return False  # the store just failed: use what is here rather than wait on it
        entry = self._signals_total.get(session_id)
        return entry is None or now - entry[1] > SIGNALS_FRESH_S

    def refresh_session_signals(self, session_id: str) -> None:
        """Read the session's stored signals now (one primary-key read)."""
        started = time.monotonic()
        with self._lock:
            if session_id in self._signals_flushing:
                return  # the flush under way brings back its total
        try:
            fetched = self.store.fetch_signals([session_id]).get(session_id, EMPTY_SIGNALS)
        except Exception:
            self._signals_fetch_failed_at = time.monotonic()
            log.warning("could not read a session's signals; scoring it from this worker's view")
            return
        with self._lock:
            entry = self._signals_total.get(session_id)
            # A flush that started or finished meanwhile has (or will have) a total at least as
            # fresh; writing this read over it could count a batch twice or drop one.
            if session_id in self._signals_flushing or (entry is not None and entry[1] >= started):
                return
            self._signals_total[session_id] = (fetched, time.monotonic())
            self._signals_total.move_to_end(session_id)
            while len(self._signals_total) > MAX_CACHED_SESSIONS:
                self._signals_total.popitem(last=False)

    def update_session_signals(self, session_id: str, delta: SessionSignals) -> SessionSignals:
        """Add `delta` to the session's signals and return the combined view."""
        self.add_session_signals(session_id, delta)
        return self.get_session_signals(session_id)

    def add_session_signals(self, session_id: str, delta: SessionSignals) -> None:
        """Add `delta` to the session's signals, without reading them."""
        self._ensure_started()
        with self._lock:
            current = self._signals_pending.get(session_id)
            self._signals_pending[session_id] = delta if current is None else current.merged(delta)

    # -- versioned values -----------------------------------------------------------------

    def get_active_policy(self) -> tuple[int, str | None]:
        """(version, YAML) of the policy switched at runtime; (0, None) means the configured one."""
        return self._get_value(POLICY_KEY)

    def set_active_policy(self, yaml_text: str) -> int:
        """Make `yaml_text` the active policy of every worker; returns the new version."""
        return self._set_value(POLICY_KEY, yaml_text)

    def partners_version(self) -> int:
        self._load_versions()
        return self._versions.get(PARTNERS_KEY, 0)

    def bump_partners_version(self) -> int:
        return self._set_value(PARTNERS_KEY, None)

    def _get_value(self, name: str) -> tuple[int, str | None]:
        self._ensure_started()
        self._load_versions()
        version = self._versions.get(name, 0)
        cached = self._values.get(name)
        if cached is not None and cached[0] == version:
            return cached
        if version == 0:
            return 0, None
        value = self.store.read_value(name)
        with self._lock:
            self._values[name] = value
            self._versions[name] = max(self._versions.get(name, 0), value[0])
        return value

    def _set_value(self, name: str, value: str | None) -> int:
        version = self.store.write_value(name, value, datetime.fromtimestamp(self._now(), tz=UTC))
        with self._lock:
            self._versions[name] = version
            self._values[name] = (version, value)
        return version

    def _load_versions(self) -> None:
        if not self._versions_loaded:
            versions = self.store.read_versions()
            with self._lock:
                for name, version in versions.items():
                    self._versions[name] = max(self._versions.get(name, 0), version)
                self._versions_loaded = True

    # -- background ---------------------------------------------------------------------

    def add_tick_hook(self, hook: Callable[[], object]) -> None:
        """Run `hook` on the background tick (for other write-behind work, e.g. escalation)."""
        self._tick_hooks.append(hook)

    def _ensure_started(self) -> None:
        if self._background and not self._closed:
            self._tick.ensure_running()

    def _has_work(self) -> bool:
        return bool(self._counts_pending or self._signals_pending or self._signals_wanted)

    def _forget_versions(self) -> None:
        # While the tick sleeps nobody polls: the next reader fetches the versions itself, so a
        # policy switched through another worker meanwhile is in force from its first request.
        with self._lock:
            self._versions_loaded = False

    def _tick_job(self) -> int:
        """One tick; returns how much it wrote or read, so an idle worker's tick can stop."""
        with self._lock:
            work = len(self._counts_pending) + len(self._signals_pending)
            work += len(self._signals_wanted)
        for result in self.flush():
            work += len(result) if isinstance(result, Sized) else 0
        return work

    def flush(self) -> list[object]:
        """Write pending counts and signals, read back totals, poll versions; one tick.

        Returns what the tick hooks returned.
        """
        with self._flush_lock:
            self._flush_counts()
            self._flush_signals()
            self._poll_versions()
            results = [hook() for hook in list(self._tick_hooks)]
            now = self._now()
            if time.monotonic() - self._last_purge > PURGE_EVERY_S:
                self._last_purge = time.monotonic()
                self._purge_local(now)
                self.store.purge(now)
            return results

    def _flush_counts(self) -> None:
        with self._lock:
            # Counters this worker used in the previous tick are re-read once more, so its next
            # hit after a pause starts from the others' counts; idle counters cost nothing.
            known = [k for k in self._counts_last_batch if k not in self._counts_pending]
            self._counts_last_batch = set(self._counts_pending)
            if not self._counts_pending and not known:
                return
            batch = self._counts_pending
            self._counts_flushing = batch
            self._counts_pending = {}
            expires = {k: self._counts_expires[k] for k in batch}
        try:
            totals = self.store.add_counts(batch, expires, known)
        except Exception:
            with self._lock:  # keep the counts for the next attempt
                for key, n in batch.items():
                    self._counts_pending[key] = self._counts_pending.get(key, 0) + n
                self._counts_flushing = {}
            raise
        with self._lock:
            self._counts_total.update(totals)
            self._counts_flushing = {}

    def _flush_signals(self) -> None:
        with self._lock:
            batch = self._signals_pending
            self._signals_flushing = batch
            self._signals_pending = {}
            wanted = [sid for sid in self._signals_wanted if sid not in batch]
            self._signals_wanted = set()
        try:
            totals = self.store.merge_signals(batch) if batch else {}
            fetched = self.store.fetch_signals(wanted) if wanted else {}
        except Exception:
            with self._lock:
                for sid, delta in batch.items():
                    current = self._signals_pending.get(sid)
                    self._signals_pending[sid] = delta if current is None else delta.merged(current)
                self._signals_flushing = {}
                self._signals_wanted.update(wanted)
            raise
        read_at = time.monotonic()
        with self._lock:
            for sid in wanted:
                self._signals_total[sid] = (fetched.get(sid, EMPTY_SIGNALS), read_at)
            for sid, total in totals.items():
                self._signals_total[sid] = (total, read_at)
                self._signals_total.move_to_end(sid)
            self._signals_flushing = {}
            while len(self._signals_total) > MAX_CACHED_SESSIONS:
                self._signals_total.popitem(last=False)

    def _poll_versions(self) -> None:
        versions = self.store.read_versions()
        with self._lock:
            for name, version in versions.items():
                self._versions[name] = max(self._versions.get(name, 0), version)
            self._versions_loaded = True

    def _purge_local(self, now: float) -> None:
        with self._lock:
            stale = [k for k, exp in self._counts_expires.items() if exp < now]
            for key in stale:
                if key not in self._counts_pending:
                    self._counts_expires.pop(key, None)
                    self._counts_total.pop(key, None)

    def close(self) -> None:
        """Stop the background tick and write everything still pending (a clean shutdown)."""
        if self._closed:
            return
        self._closed = True
        self._tick.close()
        try:
            self.flush()
        except Exception:
            log.exception("could not flush the gate's shared state on shutdown")
        self.store.close()


def create_shared_state(
    database: Database,
    *,
    redis_url: str | None = None,
    clock: Clock = system_clock,
    flush_interval_s: float = 0.2,
    background: bool = True,
) -> SharedState:
    store: Store = RedisStore(redis_url) if redis_url else DatabaseStore(database.engine)
    return SharedState(store, clock=clock, flush_interval_s=flush_interval_s, background=background)
