"""On SQLite, used nonces live in a file of their own beside the platform database.

A signed request waits for its nonce claim; in a separate file that write never queues for the
platform database's write lock. Every worker opens the same file, so a replay is still refused
across workers.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, cast

from sqlalchemy import Engine, Table, create_engine, event, inspect
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from marketplace.core.shared.models import GateNonce

log = logging.getLogger(__name__)

NONCE_FILE_SUFFIX = "-nonces"
# Claims between two checkpoints of the nonce file's write-ahead log, so the log stays short.
NONCE_CHECKPOINT_EVERY = 200
# A log this long (pages) is copied back with writers held, so it cannot grow without bound.
NONCE_WAL_RESTART_FRAMES = 4000


class NonceCheckpointer:
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


def nonce_engine(path: str) -> Engine:
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
