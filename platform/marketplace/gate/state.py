"""State the gate shares across worker processes: nonces, rate counters, session signals, policy.

The store is the database by default (gate-owned tables, migration 0005) or Redis when
`SANDBOX_REDIS_URL` is set. The gate decides every request in well under a millisecond, so the hot
path never waits on the store, except where correctness needs it:

- **Nonces** are claimed synchronously in the store (an insert that fails on a duplicate): a
  signature replayed to another worker must be refused, so only signed requests pay one short write.
  On SQLite that write goes to a file of its own beside the database (`<database>-nonces`), so it
  never queues for the platform database's write lock behind request transactions.
- **Rate counters and session signals** are counted in-process and written behind in batches every
  `flush_interval_s` (0.2 s), merged additively in the store; each flush reads back the merged
  totals. A worker therefore sees the others' traffic up to one interval late, and a burst spread
  over several workers may overshoot a limit by what they count in that interval. That is the
  trade-off for a counter with no round-trip per request.
- **The active policy and the partner registry version** are polled by the same background tick, a
  single primary-key read, so a switch through one worker is in force in all of them well within a
  second; the worker that made the switch sees it at once.

Pending writes are flushed on a clean shutdown (`app.state.shutdown_hooks`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol, cast

from sqlalchemy import Engine, Table, bindparam, create_engine, delete, event, func, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from marketplace.core.clock import Clock, system_clock
from marketplace.core.db import Database, create_sqlite_reader
from marketplace.core.precompiled import Precompiled
from marketplace.gate.identity_models import GateCounter, GateKV, GateNonce, GateSessionSignal

log = logging.getLogger(__name__)

POLICY_KEY = "policy"
PARTNERS_KEY = "partners"
SIGNAL_RETENTION_S = 24 * 3600
MAX_CACHED_SESSIONS = 50_000
PURGE_EVERY_S = 30.0
NONCE_FILE_SUFFIX = "-nonces"
# Claims between two checkpoints of the nonce file's write-ahead log (a claim adds about 14 KiB).
NONCE_CHECKPOINT_EVERY = 200
# A log this long (pages) is copied back with writers held, so it cannot grow without bound.
NONCE_WAL_RESTART_FRAMES = 4000


# --- Session signals ----------------------------------------------------------------------

_SUM_FIELDS = (
    "requests",
    "pages",
    "assets",
    "views",
    "beacons",
    "webdriver_beacons",
    "pointer_events",
    "key_events",
    "flagged",
)
_MIN_FIELDS = ("first_seen", "first_interaction_ms", "first_checkout")
_MAX_FIELDS = ("last_seen",)


def _min(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _max(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


class SessionSignals(NamedTuple):
    """What one session did, as counts and first/last moments (Unix seconds).

    Every field merges without coordination (sums, minima, maxima), so each worker records its
    share and the store adds them up. A named tuple, because merging runs on every request.
    """

    first_seen: float | None = None
    last_seen: float | None = None
    requests: int = 0
    pages: int = 0  # HTML pages fetched
    assets: int = 0  # /static/ files fetched
    views: int = 0  # product or catalog views, page or API
    beacons: int = 0
    webdriver_beacons: int = 0  # beacons that reported navigator.webdriver
    pointer_events: int = 0
    key_events: int = 0
    first_interaction_ms: float | None = None  # page load → first pointer/key event
    first_checkout: float | None = None  # first cart/checkout/order request
    flagged: int = 0  # requests scored as automated

    def merged(self, o: SessionSignals) -> SessionSignals:
        # Spelled out field by field: a generic loop costs several times more per request.
        return SessionSignals(
            _min(self.first_seen, o.first_seen),
            _max(self.last_seen, o.last_seen),
            self.requests + o.requests,
            self.pages + o.pages,
            self.assets + o.assets,
            self.views + o.views,
            self.beacons + o.beacons,
            self.webdriver_beacons + o.webdriver_beacons,
            self.pointer_events + o.pointer_events,
            self.key_events + o.key_events,
            _min(self.first_interaction_ms, o.first_interaction_ms),
            _min(self.first_checkout, o.first_checkout),
            self.flagged + o.flagged,
        )

    def as_dict(self) -> dict[str, Any]:
        return self._asdict()


EMPTY_SIGNALS = SessionSignals()


# --- Stores -------------------------------------------------------------------------------


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


class DatabaseStore:
    """Shared state in the platform database: short, batched transactions on gate tables."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.read_engine = engine
        database = engine.url.database
        if self.dialect == "sqlite" and database not in (None, "", ":memory:"):
            # The platform's SQLite engine opens every transaction with BEGIN IMMEDIATE (the
            # write lock). The tick's polls only read, so they use a plain engine: WAL readers
            # take no lock and never queue behind, or in front of, request writers.
            self.read_engine = create_sqlite_reader(engine.url, pool_size=2)
        self.nonce_engine = engine
        if self.dialect == "sqlite" and database not in (None, "", ":memory:"):
            # A signed request waits for its nonce claim. In the platform's database that write
            # queues for the write lock behind request transactions, which hold it from BEGIN
            # IMMEDIATE to commit (tens of ms under load); in a file of its own it only ever
            # waits for another claim. Every worker opens the same file, so replays are still
            # refused across workers.
            self.nonce_engine = _nonce_engine(f"{database}{NONCE_FILE_SUFFIX}")
        table = GateNonce.__table__
        claim = self._insert(table).values(key=bindparam("key"), expires_at=bindparam("expires_at"))
        # Built once: building the upsert per request cost more than running it.
        self._claim = claim.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={"expires_at": claim.excluded.expires_at},
            where=table.c.expires_at < bindparam("now"),
        ).returning(table.c.key)
        # On the nonce file the claim runs on one connection of its own, in autocommit, as the
        # statement compiled once from the upsert above: a pooled checkout, BEGIN and COMMIT and
        # SQLAlchemy's execution path cost several times the write itself (about 200 us of
        # CPU against 40), on every signed request. The values are a string and floats, which
        # the driver binds as they are, so skipping SQLAlchemy's execution skips no conversion.
        self._claim_precompiled = (
            Precompiled(self._claim) if self.nonce_engine is not engine else None
        )
        self._claim_conn: Any = None
        self._claim_lock = threading.Lock()
        self._claims_since_checkpoint = 0
        self._checkpointer: _NonceCheckpointer | None = None

    def _insert(self, table: Any) -> Any:
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    def _least(self, a: Any, b: Any) -> Any:
        # Coalesce both ways so a NULL side never wins (SQLite's min(NULL, x) is NULL).
        a2, b2 = func.coalesce(a, b), func.coalesce(b, a)
        return func.least(a2, b2) if self.dialect == "postgresql" else func.min(a2, b2)

    def _greatest(self, a: Any, b: Any) -> Any:
        a2, b2 = func.coalesce(a, b), func.coalesce(b, a)
        return func.greatest(a2, b2) if self.dialect == "postgresql" else func.max(a2, b2)

    def claim_nonce(self, key: str, now: float, ttl_s: float) -> bool:
        # An expired row may be reused; a live one makes this a replay. RETURNING yields a row
        # only when this call inserted or revived the nonce.
        values = {"key": key, "expires_at": now + ttl_s, "now": now}
        if self._claim_precompiled is not None:
            return self._claim_in_nonce_file(self._claim_precompiled, values)
        with self.nonce_engine.begin() as conn:
            claimed = conn.execute(self._claim, values).first()
        return claimed is not None

    def _claim_in_nonce_file(self, claim: Precompiled, values: dict[str, Any]) -> bool:
        # One connection per process: SQLite lets one writer in at a time anyway, and the
        # statement is its own transaction (autocommit), so a claim is atomic across workers.
        with self._claim_lock:
            conn = self._claim_conn
            if conn is None:
                conn = self._claim_conn = self._open_claim_connection()
            try:
                rows = claim.rows_on(conn.dbapi_connection, self.nonce_engine.dialect, values)
            except Exception:
                # A broken connection is not reused; the next claim opens a fresh one.
                self._claim_conn = None
                with contextlib.suppress(Exception):
                    conn.close()
                raise
            self._claims_since_checkpoint += 1
            if self._claims_since_checkpoint >= NONCE_CHECKPOINT_EVERY:
                self._claims_since_checkpoint = 0
                if self._checkpointer is None:
                    self._checkpointer = _NonceCheckpointer(self.nonce_engine)
                self._checkpointer.wake()
        return bool(rows)

    def _open_claim_connection(self) -> Any:
        # Through the engine, so the connect hook sets WAL and the busy timeout; detached, so
        # the pool never hands this autocommit connection to a transaction (or closes it).
        conn = self.nonce_engine.raw_connection()
        conn.detach()
        driver: Any = conn.dbapi_connection
        driver.isolation_level = None
        # SQLite would copy the log back into the file inside every ~300th claim (a few ms, the
        # signed requests' p99); _NonceCheckpointer does it in a thread of its own instead.
        driver.execute("PRAGMA wal_autocheckpoint=0")
        return conn

    def add_counts(
        self,
        deltas: dict[tuple[str, int], int],
        expires: dict[tuple[str, int], float],
        also_read: Iterable[tuple[str, int]] = (),
    ) -> dict[tuple[str, int], int]:
        wanted = set(deltas) | set(also_read)
        if not wanted:
            return {}
        table = GateCounter.__table__
        stmt = self._insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.bucket, table.c.window_start],
            set_={"count": table.c.count + stmt.excluded.count},
        )
        rows = [
            {"bucket": b, "window_start": w, "count": n, "expires_at": expires[(b, w)]}
            for (b, w), n in sorted(deltas.items())  # a fixed order avoids PostgreSQL deadlocks
        ]
        buckets = sorted({b for b, _ in wanted})
        with self.engine.begin() as conn:
            if rows:
                conn.execute(stmt, rows)
            totals: dict[tuple[str, int], int] = {}
            for chunk in _chunks(buckets, 500):
                found = conn.execute(
                    select(table.c.bucket, table.c.window_start, table.c.count).where(
                        table.c.bucket.in_(chunk)
                    )
                )
                for bucket, window_start, count in found:
                    if (bucket, window_start) in wanted:
                        totals[(bucket, window_start)] = int(count)
        return totals

    @functools.cached_property
    def _merge_signals(self) -> Any:
        # Built once: building this upsert on every tick cost more than running it.
        table = GateSessionSignal.__table__
        stmt = self._insert(table)
        ex = stmt.excluded
        set_: dict[str, Any] = {name: table.c[name] + ex[name] for name in _SUM_FIELDS}
        for name in _MIN_FIELDS:
            set_[name] = self._least(table.c[name], ex[name])
        for name in _MAX_FIELDS:
            set_[name] = self._greatest(table.c[name], ex[name])
        return stmt.on_conflict_do_update(index_elements=[table.c.session_id], set_=set_)

    def merge_signals(self, deltas: dict[str, SessionSignals]) -> dict[str, SessionSignals]:
        if not deltas:
            return {}
        stmt = self._merge_signals
        rows = []
        for sid, delta in sorted(deltas.items()):
            row = delta.as_dict()
            seen = row["first_seen"] if row["first_seen"] is not None else row["last_seen"]
            row["first_seen"] = seen if seen is not None else 0.0
            row["last_seen"] = (
                row["last_seen"] if row["last_seen"] is not None else row["first_seen"]
            )
            row["session_id"] = sid
            rows.append(row)
        with self.engine.begin() as conn:
            conn.execute(stmt, rows)
            return self._select_signals(conn, list(deltas))

    def fetch_signals(self, ids: Sequence[str]) -> dict[str, SessionSignals]:
        if not ids:
            return {}
        with self.read_engine.connect() as conn:
            return self._select_signals(conn, ids)

    def _select_signals(self, conn: Any, ids: Sequence[str]) -> dict[str, SessionSignals]:
        table = GateSessionSignal.__table__
        names = list(SessionSignals._fields)
        out: dict[str, SessionSignals] = {}
        for chunk in _chunks(sorted(ids), 500):
            result = conn.execute(
                select(table.c.session_id, *(table.c[n] for n in names)).where(
                    table.c.session_id.in_(chunk)
                )
            )
            for row in result:
                out[row[0]] = SessionSignals(**dict(zip(names, row[1:], strict=True)))
        return out

    def read_versions(self) -> dict[str, int]:
        with self.read_engine.connect() as conn:
            rows = conn.execute(select(GateKV.name, GateKV.version))
            return {name: int(version) for name, version in rows}

    def read_value(self, name: str) -> tuple[int, str | None]:
        with self.read_engine.connect() as conn:
            row = conn.execute(
                select(GateKV.version, GateKV.value).where(GateKV.name == name)
            ).first()
        return (int(row[0]), row[1]) if row else (0, None)

    def write_value(self, name: str, value: str | None, now: datetime) -> int:
        table = GateKV.__table__
        stmt = self._insert(table).values(name=name, version=1, value=value, updated_at=now)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.name],
            set_={"version": table.c.version + 1, "value": value, "updated_at": now},
        )
        with self.engine.begin() as conn:
            conn.execute(stmt)
            version = conn.execute(select(table.c.version).where(table.c.name == name)).scalar_one()
        return int(version)

    def purge(self, now: float) -> None:
        with self.nonce_engine.begin() as conn:
            conn.execute(delete(GateNonce).where(GateNonce.expires_at < now))
        with self.engine.begin() as conn:
            conn.execute(delete(GateCounter).where(GateCounter.expires_at < now))
            conn.execute(
                delete(GateSessionSignal).where(
                    GateSessionSignal.last_seen < now - SIGNAL_RETENTION_S
                )
            )

    def close(self) -> None:
        if self.read_engine is not self.engine:
            self.read_engine.dispose()
        if self.nonce_engine is not self.engine:
            with self._claim_lock:
                if self._claim_conn is not None:
                    self._claim_conn.close()
                    self._claim_conn = None
                checkpointer, self._checkpointer = self._checkpointer, None
            if checkpointer is not None:
                checkpointer.stop()
            self.nonce_engine.dispose()


class _NonceCheckpointer:
    """Copies the nonce file's write-ahead log back into the file, off the request path.

    A passive checkpoint never waits for, or blocks, a claim in any worker, and the log is reused
    from its start once a checkpoint has caught up, so it stays a few MiB; when claims come
    without a pause long enough for that, a restarting checkpoint bounds it.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._wanted = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="gate-nonce-checkpoint", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wanted.set()

    def stop(self) -> None:
        self._stopping = True
        self._wanted.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            if self._stopping:
                return
            try:
                self.checkpoint()
            except SQLAlchemyError:
                # The next wake-up tries again; meanwhile the log only grows.
                log.warning("checkpoint of the nonce file failed", exc_info=True)

    def checkpoint(self) -> int:
        """Copy the log back into the file; returns the pages the log held."""
        with self.engine.connect() as conn:
            row = conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").first()
            pages = int(row[1]) if row is not None else 0
            if pages > NONCE_WAL_RESTART_FRAMES:
                # Claims without a pause never let the log start over; this mode waits for the
                # claim in progress and holds the next ones for one copy.
                conn.exec_driver_sql("PRAGMA wal_checkpoint(RESTART)")
        return pages


def _nonce_engine(path: str) -> Engine:
    """The SQLite file of used nonces beside the platform database, created on first use."""
    engine = create_engine(
        f"sqlite:///{path}",
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=4,
        max_overflow=8,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    table = cast(Table, GateNonce.__table__)
    if not inspect(engine).has_table(table.name):
        try:
            table.create(engine)
        except OperationalError:
            # Another worker created it a moment ago; anything else is a real failure.
            if not inspect(engine).has_table(table.name):
                raise
    return engine


_REDIS_MERGE = """
for i, name in ipairs(ARGV) do
  if i % 3 == 1 then
    local op, value = ARGV[i + 1], ARGV[i + 2]
    if op == 'sum' then
      redis.call('HINCRBY', KEYS[1], name, value)
    else
      local current = redis.call('HGET', KEYS[1], name)
      if (not current) or (op == 'min' and tonumber(value) < tonumber(current))
         or (op == 'max' and tonumber(value) > tonumber(current)) then
        redis.call('HSET', KEYS[1], name, value)
      end
    end
  end
end
redis.call('EXPIRE', KEYS[1], tonumber(KEYS[2]))
return 1
"""


class RedisStore:
    """Shared state in Redis: nonces with SET NX, counters with INCRBY, signals in hashes."""

    prefix = "sandbox:gate:"

    def __init__(self, url: str) -> None:
        import redis

        self.redis = redis.Redis.from_url(url, decode_responses=True, socket_timeout=2.0)
        self._merge = self.redis.register_script(_REDIS_MERGE)

    def claim_nonce(self, key: str, now: float, ttl_s: float) -> bool:
        ttl_ms = max(1000, int(ttl_s * 1000))
        return bool(self.redis.set(f"{self.prefix}nonce:{key}", "1", nx=True, px=ttl_ms))

    def add_counts(
        self,
        deltas: dict[tuple[str, int], int],
        expires: dict[tuple[str, int], float],
        also_read: Iterable[tuple[str, int]] = (),
    ) -> dict[tuple[str, int], int]:
        keys = sorted(deltas)
        extra = sorted(set(also_read) - set(deltas))
        if not keys and not extra:
            return {}
        pipe = self.redis.pipeline(transaction=False)
        for bucket, window in keys:
            name = f"{self.prefix}count:{bucket}:{window}"
            pipe.incrby(name, deltas[(bucket, window)])
            pipe.expire(name, max(1, int(expires[(bucket, window)] - window)))
        for bucket, window in extra:
            pipe.get(f"{self.prefix}count:{bucket}:{window}")
        results = pipe.execute()
        totals = {key: int(results[2 * i]) for i, key in enumerate(keys)}
        offset = 2 * len(keys)
        for i, key in enumerate(extra):
            value = results[offset + i]
            if value is not None:
                totals[key] = int(value)
        return totals

    def merge_signals(self, deltas: dict[str, SessionSignals]) -> dict[str, SessionSignals]:
        for sid, delta in deltas.items():
            args: list[Any] = []
            for name in _SUM_FIELDS:
                if getattr(delta, name):
                    args += [name, "sum", str(getattr(delta, name))]
            for name in _MIN_FIELDS:
                if getattr(delta, name) is not None:
                    args += [name, "min", repr(float(getattr(delta, name)))]
            for name in _MAX_FIELDS:
                if getattr(delta, name) is not None:
                    args += [name, "max", repr(float(getattr(delta, name)))]
            self._merge(keys=[f"{self.prefix}signals:{sid}", str(SIGNAL_RETENTION_S)], args=args)
        return self.fetch_signals(list(deltas))

    def fetch_signals(self, ids: Sequence[str]) -> dict[str, SessionSignals]:
        if not ids:
            return {}
        pipe = self.redis.pipeline(transaction=False)
        for sid in ids:
            pipe.hgetall(f"{self.prefix}signals:{sid}")
        out: dict[str, SessionSignals] = {}
        for sid, raw in zip(ids, pipe.execute(), strict=True):
            if raw:
                values: dict[str, Any] = {}
                for name in _SUM_FIELDS:
                    values[name] = int(raw.get(name, 0))
                for name in (*_MIN_FIELDS, *_MAX_FIELDS):
                    values[name] = float(raw[name]) if name in raw else None
                out[sid] = SessionSignals(**values)
        return out

    def read_versions(self) -> dict[str, int]:
        pipe = self.redis.pipeline(transaction=False)
        names = (POLICY_KEY, PARTNERS_KEY)
        for name in names:
            pipe.hget(f"{self.prefix}kv:{name}", "version")
        return {n: int(v) for n, v in zip(names, pipe.execute(), strict=True) if v is not None}

    def read_value(self, name: str) -> tuple[int, str | None]:
        raw = self.redis.hgetall(f"{self.prefix}kv:{name}")
        if not raw:
            return 0, None
        value = raw.get("value")
        return int(raw.get("version", 0)), str(value) if value is not None else None

    def write_value(self, name: str, value: str | None, now: datetime) -> int:
        key = f"{self.prefix}kv:{name}"
        pipe = self.redis.pipeline(transaction=True)
        pipe.hincrby(key, "version", 1)
        if value is None:
            pipe.hdel(key, "value")
        else:
            pipe.hset(key, "value", value)
        return int(pipe.execute()[0])

    def purge(self, now: float) -> None:
        return None  # Redis expires keys itself

    def close(self) -> None:
        self.redis.close()


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- The front every worker uses ----------------------------------------------------------


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
        # Session signals: stored totals (LRU), in-flight and pending deltas.
        self._signals_total: OrderedDict[str, SessionSignals] = OrderedDict()
        self._signals_pending: dict[str, SessionSignals] = {}
        self._signals_flushing: dict[str, SessionSignals] = {}
        self._signals_wanted: set[str] = set()
        # Versioned values (policy, partner registry).
        self._versions: dict[str, int] = {}
        self._values: dict[str, tuple[int, str | None]] = {}
        self._versions_loaded = False
        self._tick_hooks: list[Callable[[], object]] = []
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
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
        """What every worker has recorded for the session, at most one flush interval late."""
        self._ensure_started()
        with self._lock:
            # Whatever is read is re-read from the store on the next tick, so a session's view
            # of the other workers' share is never more than one tick older than its last read.
            self._signals_wanted.add(session_id)
            total = self._signals_total.get(session_id)
            if total is None:
                total = EMPTY_SIGNALS
            else:
                self._signals_total.move_to_end(session_id)
            flushing = self._signals_flushing.get(session_id)
            pending = self._signals_pending.get(session_id)
        if flushing is not None:
            total = total.merged(flushing)
        if pending is not None:
            total = total.merged(pending)
        return total

    def update_session_signals(self, session_id: str, delta: SessionSignals) -> SessionSignals:
        """Add `delta` to the session's signals and return the combined view."""
        self._ensure_started()
        with self._lock:
            current = self._signals_pending.get(session_id)
            self._signals_pending[session_id] = delta if current is None else current.merged(delta)
        return self.get_session_signals(session_id)

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
        if self._thread is None and self._background and not self._closed:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="gate-shared-state", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.flush_interval_s):
            try:
                self.flush()
            except SQLAlchemyError as exc:
                log.warning("gate shared state flush failed, will retry: %s", exc)
            except Exception:
                log.exception("gate shared state flush failed")

    def flush(self) -> None:
        """Write pending counts and signals, read back totals, poll versions; one tick."""
        with self._flush_lock:
            self._flush_counts()
            self._flush_signals()
            self._poll_versions()
            for hook in list(self._tick_hooks):
                hook()
            now = self._now()
            if time.monotonic() - self._last_purge > PURGE_EVERY_S:
                self._last_purge = time.monotonic()
                self._purge_local(now)
                self.store.purge(now)

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
        with self._lock:
            for sid in wanted:
                self._signals_total[sid] = fetched.get(sid, EMPTY_SIGNALS)
            for sid, total in totals.items():
                self._signals_total[sid] = total
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
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
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


def get_shared_state(app_state: Any) -> SharedState:
    """The app's SharedState, created on first use and flushed by the app's shutdown hooks."""
    existing: SharedState | None = getattr(app_state, "shared_state", None)
    if existing is not None:
        return existing
    with _create_lock:
        existing = cast("SharedState | None", getattr(app_state, "shared_state", None))
        if existing is not None:
            return existing
        settings = app_state.settings
        state = create_shared_state(
            app_state.db,
            redis_url=settings.redis_url,
            clock=getattr(app_state, "clock", system_clock),
        )
        app_state.shared_state = state
        hooks = getattr(app_state, "shutdown_hooks", None)
        if hooks is not None:
            hooks.append(state.close)
        return state


_create_lock = threading.Lock()

__all__ = [
    "EMPTY_SIGNALS",
    "DatabaseStore",
    "RedisStore",
    "SessionSignals",
    "SharedState",
    "create_shared_state",
    "get_shared_state",
]
