"""Retention: rows older than a table's retention period are deleted, a batch at a time.

The app prunes from a background tick (the decision log's writer thread) at most once per
`interval_s`; `sandbox prune` runs the same rules once. Which tables and how long is decided where
the tables are known (marketplace.admin.retention); this module only knows tables and columns, so
core stays below the domains.

Old rows are found on a reader connection and deleted by id in short transactions of `batch_size`
rows, so on SQLite the write lock is held only briefly and requests keep writing in between. One
run deletes at most `max_rows_per_run` rows per table; when a run stops there, the next one comes
sooner.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, delete, func, select

from marketplace.core.clock import Clock
from marketplace.core.db import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionRule:
    """Rows of `table` whose `column` is older than `days` days go; `days` 0 keeps them all."""

    name: str  # what people read, e.g. "gate decisions"
    table: Table
    column: str
    days: float
    setting: str  # the environment variable that sets `days`


@dataclass(frozen=True)
class Pruned:
    """What one rule removed (or, in a dry run, would remove)."""

    rule: RetentionRule
    days: float
    before: datetime | None  # None: kept forever
    rows: int
    complete: bool  # False when the run stopped at its row budget


class Retention:
    """Applies retention rules to one database."""

    def __init__(
        self,
        database: Database,
        rules: list[RetentionRule],
        *,
        clock: Clock,
        interval_s: float = 3600.0,
        retry_s: float = 60.0,
        batch_size: int = 500,  # ids are bound one by one: under old SQLite's 999-variable limit
        max_rows_per_run: int = 200_000,
    ) -> None:
        self.database = database
        self.rules = rules
        self.clock = clock
        self.interval_s = interval_s
        self.retry_s = retry_s
        self.batch_size = batch_size
        self.max_rows_per_run = max_rows_per_run
        self._next_run = 0.0  # monotonic seconds
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return any(rule.days > 0 for rule in self.rules)

    def prune(self, *, older_than_days: float | None = None, dry_run: bool = False) -> list[Pruned]:
        """Delete (or count, with `dry_run`) what the rules let go; `older_than_days` overrides
        every rule's period."""
        now = self.clock()
        results = []
        for rule in self.rules:
            days = rule.days if older_than_days is None else older_than_days
            if days <= 0:
                results.append(Pruned(rule, days, None, 0, True))
                continue
            before = now - timedelta(days=days)
            if dry_run:
                results.append(Pruned(rule, days, before, self._count(rule, before), True))
            else:
                rows, complete = self._delete(rule, before)
                results.append(Pruned(rule, days, before, rows, complete))
        return results

    def maybe_prune(self) -> None:
        """Prune when it is time (a background job: never raises, never runs twice at once)."""
        if not self.enabled or time.monotonic() < self._next_run:
            return
        if not self._lock.acquire(blocking=False):
            return
        try:
            results = self.prune()
        except Exception:
            log.exception("pruning old rows failed; trying again later")
            self._next_run = time.monotonic() + self.retry_s
            return
        finally:
            self._lock.release()
        done = all(result.complete for result in results)
        self._next_run = time.monotonic() + (self.interval_s if done else self.retry_s)
        for result in results:
            if result.rows:
                log.info(
                    "removed %d %s older than %s days", result.rows, result.rule.name, result.days
                )

    def _count(self, rule: RetentionRule, before: datetime) -> int:
        column = rule.table.c[rule.column]
        query = select(func.count()).select_from(rule.table).where(column < before)
        with self.database.reader() as connection:
            return int(connection.execute(query).scalar_one())

    def _delete(self, rule: RetentionRule, before: datetime) -> tuple[int, bool]:
        table = rule.table
        column, key = table.c[rule.column], table.c["id"]
        total = 0
        while total < self.max_rows_per_run:
            limit = min(self.batch_size, self.max_rows_per_run - total)
            with self.database.reader() as connection:
                ids = list(
                    connection.execute(
                        select(key).where(column < before).order_by(key).limit(limit)
                    ).scalars()
                )
            if not ids:
                return total, True
            with self.database.engine.begin() as connection:
                connection.execute(delete(table).where(key.in_(ids)))
            total += len(ids)
            if len(ids) < limit:
                return total, True
        return total, False
