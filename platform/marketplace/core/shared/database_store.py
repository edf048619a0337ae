"""Shared state in the platform database: short, batched transactions on the gate's tables."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from marketplace.core.db import create_sqlite_reader
from marketplace.core.precompiled import Precompiled
from marketplace.core.shared.models import (
    NONCE_KEY_LENGTH,
    GateCounter,
    GateKV,
    GateNonce,
    GateSessionSignal,
)
from marketplace.core.shared.nonce_file import (
    NONCE_CHECKPOINT_EVERY,
    NONCE_FILE_SUFFIX,
    NonceCheckpointer,
    nonce_engine,
)
from marketplace.core.shared.session_signals import (
    MAX_FIELDS,
    MIN_FIELDS,
    SUM_FIELDS,
    SessionSignals,
)
from marketplace.core.shared.store import SIGNAL_RETENTION_S, chunks


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
            # IMMEDIATE to commit; in a file of its own it only ever
            # waits for another claim. Every worker opens the same file, so replays are still
            # refused across workers.
            self.nonce_engine = nonce_engine(f"{database}{NONCE_FILE_SUFFIX}")
            digest_legacy_nonce_keys(self.nonce_engine)
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
        # SQLAlchemy's execution path cost more than the write itself, on every signed
        # request. The values are a string and floats, which
        # the driver binds as they are, so skipping SQLAlchemy's execution skips no conversion.
        self._claim_precompiled = (
            Precompiled(self._claim) if self.nonce_engine is not engine else None
        )
        self._claim_conn: Any = None
        self._claim_lock = threading.Lock()
        self._claims_since_checkpoint = 0
        self._checkpointer: NonceCheckpointer | None = None

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
        values = {"key": stored_nonce_key(key), "expires_at": now + ttl_s, "now": now}
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
                    self._checkpointer = NonceCheckpointer(self.nonce_engine)
                self._checkpointer.wake()
        return bool(rows)

    def _open_claim_connection(self) -> Any:
        # Through the engine, so the connect hook sets WAL and the busy timeout; detached, so
        # the pool never hands this autocommit connection to a transaction (or closes it).
        conn = self.nonce_engine.raw_connection()
        conn.detach()
        driver: Any = conn.dbapi_connection
        driver.isolation_level = None
        # SQLite would otherwise copy the log back into the file inside a claim now and then,
        # which set the signed requests' tail latency; NonceCheckpointer does it in a thread
        # of its own instead.
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
            for chunk in chunks(buckets, 500):
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
        set_: dict[str, Any] = {name: table.c[name] + ex[name] for name in SUM_FIELDS}
        for name in MIN_FIELDS:
            set_[name] = self._least(table.c[name], ex[name])
        for name in MAX_FIELDS:
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
        for chunk in chunks(sorted(ids), 500):
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


def stored_nonce_key(key: str) -> str:
    """The key as stored: as given when it fits the column, else its SHA-256 digest in hex.

    The gate already hands over a digest (verify.replay_key); this keeps any other caller's key,
    of any length, storable on PostgreSQL, whose VARCHAR refuses what does not fit.
    """
    if len(key) <= NONCE_KEY_LENGTH:
        return key
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def digest_legacy_nonce_keys(engine: Engine) -> None:
    """Rewrite nonce keys stored before migration 0009 (`n:keyid:nonce`) as the gate's digests.

    The platform database is rewritten by the migration; SQLite's nonce file, which migrations
    never see, is rewritten here, so a signature used just before an upgrade stays used.
    A digest is hex and has no ':', so a second run (or a second worker) finds nothing to do.
    """
    with engine.begin() as conn:
        legacy = conn.execute(select(GateNonce.key).where(GateNonce.key.like("%:%"))).scalars()
        for key in legacy.all():
            digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
            conn.execute(update(GateNonce).where(GateNonce.key == key).values(key=digest))
