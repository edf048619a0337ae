"""Write-behind inserts: rows a request records without waiting for the database's write lock.

A product page records a `view` in the shopper's history. Writing it in the request would make
every page view a write transaction, and on SQLite writers take turns: the page would wait for
the write lock instead of being served from a read. Instead the row is queued here and written

- by the next session of this database that begins a transaction (in that transaction, before
  its own statements), so that session reads it, and
- by a background tick every `interval_s` (0.25 s) when no session came along, in one batch;
  a session that begins during that write waits for its commit.

Reads that take no session (a product page's reader) add the rows still queued (`queued`).
Rows a session wrote as it began are seen by others once that session commits.

Rows taken by a session that then rolls back are queued again, so a failing request loses none.
What is lost is at most what was queued when the process died without a shutdown (the shutdown
hook writes everything). Another worker process sees the rows within `interval_s`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Table, insert
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from marketplace.core.tick import BackgroundTick

log = logging.getLogger(__name__)

# Beyond this (a database that stays unwritable) the oldest rows are dropped, and counted.
MAX_PENDING = 100_000

Batch = list[tuple[Table, dict[str, Any]]]


class WriteBehind:
    """Queued inserts for one engine, written in batches."""

    def __init__(self, engine: Engine, *, interval_s: float = 0.25) -> None:
        self.engine = engine
        self.interval_s = interval_s
        self.dropped = 0
        self._pending: Batch = []
        # Rows a flush has taken and not yet committed: still pending and queued to whoever
        # asks meanwhile (a session that begins waits for that commit; see `pending`).
        self._in_flight: Batch = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._ticker = BackgroundTick(
            "write-behind", self._tick, interval_s=interval_s, has_work=lambda: bool(self._pending)
        )

    def add(self, table: Table, row: dict[str, Any]) -> None:
        """Queue one row for `table`."""
        with self._lock:
            self._pending.append((table, row))
            if len(self._pending) > MAX_PENDING:
                del self._pending[0]
                self.dropped += 1
        self._ticker.ensure_running()

    @property
    def pending(self) -> int:
        """Rows queued or being written by a flush that has not committed yet."""
        return len(self._pending) + len(self._in_flight)

    def queued(self, table: Table) -> list[dict[str, Any]]:
        """A copy of the rows queued for `table` and not yet committed by a flush (e.g. to count
        a view the database may not have yet; one a flush commits meanwhile may be in both)."""
        if not self._pending and not self._in_flight:
            return []
        with self._lock:
            return [row for t, row in (*self._in_flight, *self._pending) if t is table]

    def take(self) -> Batch:
        """Everything queued so far, removed from the queue (give it back with `requeue`)."""
        if not self._pending:
            return []
        with self._lock:
            batch, self._pending = self._pending, []
        return batch

    def requeue(self, batch: Batch) -> None:
        """Put rows back at the front of the queue, e.g. after the transaction that took them
        rolled back."""
        if batch:
            with self._lock:
                self._pending[:0] = batch

    @staticmethod
    def write(connection: Connection, batch: Batch) -> None:
        """Insert `batch` on `connection` (inside its transaction), one statement per table."""
        by_table: dict[Table, list[dict[str, Any]]] = {}
        for table, row in batch:
            by_table.setdefault(table, []).append(row)
        for table, rows in by_table.items():
            connection.execute(insert(table), rows)

    def flush(self) -> int:
        """Write everything queued now, in a transaction of its own; returns how many rows."""
        if not self._pending:
            return 0
        with self.engine.connect() as connection:
            # Begin first: on SQLite that takes the write lock, which a session writing the
            # queue as it begins already holds, so the two locks are always taken in one order.
            transaction = connection.begin()
            try:
                with self._write_lock, self._flushing() as batch:
                    self.write(connection, batch)
                    # Committed before the lock is let go: a session that begins meanwhile
                    # sees them pending, waits for the lock, and so misses no row in flight.
                    transaction.commit()
            except BaseException:
                transaction.rollback()  # the batch is back in the queue
                raise
            return len(batch)

    @contextmanager
    def _flushing(self) -> Iterator[Batch]:
        """The queue, taken for a flush: in flight until the flush commits (the block ends),
        given back to the queue if it raises. Neither step leaves `pending` reading 0 between."""
        with self._lock:
            # In flight before leaving the queue: `pending` reads the queue first.
            self._in_flight = batch = self._pending
            self._pending = []
        try:
            yield batch
        except BaseException:
            with self._lock:
                self._pending[:0] = batch
                self._in_flight = []
            raise
        with self._lock:
            self._in_flight = []

    def write_pending(self, connection: Connection) -> Batch:
        """Write the queue in `connection`'s transaction (a session as it begins); returns the
        rows, to give back with `requeue` should that transaction roll back."""
        with self._write_lock:
            batch = self.take()
            if batch:
                try:
                    self.write(connection, batch)
                except BaseException:
                    self.requeue(batch)
                    raise
            return batch

    def _tick(self) -> int:
        try:
            return self.flush()
        except IntegrityError as exc:
            # A row the database refuses would fail every batch it is in, and with it every
            # transaction that begins: write the rest one by one and drop it.
            log.error("a queued row was refused, writing the queue row by row: %s", exc)
            return self._flush_row_by_row()
        except SQLAlchemyError as exc:
            log.warning("write-behind rows not written yet, will retry: %s", exc)
            return 0

    def _flush_row_by_row(self) -> int:
        # As `flush`, in one transaction begun first, so no reader of this process misses a
        # row in flight; each row in a savepoint of its own.
        written = 0
        with self.engine.connect() as connection:
            transaction = connection.begin()
            try:
                with self._write_lock, self._flushing() as batch:
                    for item in batch:
                        try:
                            with connection.begin_nested():
                                self.write(connection, [item])
                            written += 1
                        except IntegrityError:
                            self.dropped += 1
                            log.exception("dropped a queued row for %s", item[0].name)
                    transaction.commit()
            except SQLAlchemyError:
                transaction.rollback()  # the batch is back in the queue
                return 0
        return written

    def close(self) -> None:
        """Stop the tick and write what is left (a clean shutdown loses nothing)."""
        self._ticker.close()
        try:
            self.flush()
        except SQLAlchemyError:
            log.exception("could not write %d queued rows on shutdown", self.pending)


def give_back(write_behind: WriteBehind, taken: Sequence[Batch]) -> None:
    for batch in reversed(taken):
        write_behind.requeue(batch)
