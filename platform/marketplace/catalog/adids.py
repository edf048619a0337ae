"""Ad impression ids handed out without an insert, so a product page writes nothing in the request.

A served ad's click link names its impression (`/products/{id}?ad={impression id}`). Inserting the
impression to learn its id made every product page a write transaction: on SQLite, the write
lock. Instead every impression's id is reserved ahead (on SQLite from the `id_blocks` counter,
whose update is free inside a transaction that holds the write lock anyway; on PostgreSQL from
the table's own sequence, which takes no lock and never rolls back):

- a request that writes anyway (a search) reserves the ids it needs in its own transaction, so a
  rollback gives them back together with its rows;
- a product page takes them from a block this process reserved beforehand (`ImpressionIds`),
  and queues the rows on the write-behind. The next block is reserved by a thread while the
  current one still has ids left, so a request reserves one itself only when a process serves
  its very first ads or outruns the thread.

Ids stay unique across processes and databases; ids of a block a process never used are skipped.
Their order follows the time of the reservation, not of the impression.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from sqlalchemy import Connection, Engine, func, insert, select, text, update

from marketplace.catalog.models import AdImpression, IdBlock

log = logging.getLogger(__name__)

COUNTER = "ad_impressions"
# Ids one process reserves at a time: a product page serves up to two ads.
BLOCK_SIZE = 512


def reserve(connection: Connection, count: int) -> list[int]:
    """`count` fresh impression ids, reserved in `connection`'s transaction."""
    if connection.dialect.name == "postgresql":
        return [
            int(i)
            for i in connection.execute(
                text(
                    "SELECT nextval(pg_get_serial_sequence('ad_impressions', 'id')) "
                    "FROM generate_series(1, :n)"
                ),
                {"n": count},
            ).scalars()
        ]
    end = connection.execute(
        update(IdBlock)
        .where(IdBlock.name == COUNTER)
        .values(next_id=IdBlock.next_id + count)
        .returning(IdBlock.next_id)
    ).scalar()
    if end is None:
        # A schema made without the migration (e.g. `create_all`): start after what exists.
        highest = connection.execute(select(func.coalesce(func.max(AdImpression.id), 0)))
        end = int(highest.scalar_one()) + 1 + count
        connection.execute(insert(IdBlock).values(name=COUNTER, next_id=end))
    return list(range(int(end) - count, int(end)))


class IdSource(Protocol):
    """Where a page takes the ids of the impressions it serves."""

    def take(self, count: int) -> list[int]: ...


class IdsOnHand:
    """Ids taken ahead for one page (`ImpressionIds.take_on_hand`); those it does not serve are
    skipped, as a block's unused ids are."""

    def __init__(self, ids: list[int]) -> None:
        self._ids = ids

    def take(self, count: int) -> list[int]:
        if count > len(self._ids):
            raise ValueError(f"{count} impression ids wanted, {len(self._ids)} taken ahead")
        taken, self._ids = self._ids[:count], self._ids[count:]
        return taken


class ImpressionIds:
    """This process's block of impression ids, refilled by a thread before it runs out."""

    def __init__(self, engine: Engine, *, block_size: int = BLOCK_SIZE) -> None:
        self.engine = engine
        self.block_size = block_size
        self._current: list[int] = []
        self._spare: list[int] | None = None
        self._lock = threading.Lock()
        self._refilling = False

    def take(self, count: int) -> list[int]:
        """`count` unused ids; a block is reserved here (in a transaction of its own) only when
        none is left."""
        with self._lock:
            ids, refill = self._hand_out(count)
        if refill:
            self._refill_ahead()
        return ids

    def take_on_hand(self, count: int) -> IdsOnHand | None:
        """`count` ids this process already holds, or None. It never reserves a block (a write)
        and never waits for another taker, who may be reserving one: the event loop may call it.
        """
        if not self._lock.acquire(blocking=False):
            return None
        try:
            if len(self._current) + len(self._spare or ()) < count:
                return None
            ids, refill = self._hand_out(count)
        finally:
            self._lock.release()
        if refill:
            self._refill_ahead()
        return IdsOnHand(ids)

    def _hand_out(self, count: int) -> tuple[list[int], bool]:
        # Under the lock: the ids, and whether to reserve the next block ahead.
        ids: list[int] = []
        while len(ids) < count:
            if not self._current:
                if self._spare is None:
                    self._spare = self._reserve()
                self._current, self._spare = self._spare, None
            wanted = min(count - len(ids), len(self._current))
            ids.extend(self._current[:wanted])
            del self._current[:wanted]
        refill = self._spare is None and not self._refilling
        if refill:
            self._refilling = True
        return ids, refill

    def _refill_ahead(self) -> None:
        threading.Thread(target=self._refill, name="impression-ids", daemon=True).start()

    def _reserve(self) -> list[int]:
        with self.engine.begin() as connection:
            return reserve(connection, self.block_size)

    def _refill(self) -> None:
        try:
            block = self._reserve()
        except Exception:  # the next take reserves in the request instead
            log.exception("could not reserve ad impression ids ahead")
            block = None
        with self._lock:
            self._refilling = False
            if block is not None and self._spare is None:
                self._spare = block
