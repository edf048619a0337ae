"""Engine, sessions and the declarative base: the same behaviour on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import Connection, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import URL, Dialect, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from marketplace.core.writebehind import WriteBehind, give_back

T = TypeVar("T")
SQLITE_MMAP_BYTES = 256 * 1024 * 1024

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every platform table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sqlite_pragmas(dbapi_conn: Any) -> None:
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    # Reads come straight from the OS page cache instead of a read() call per page.
    cur.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
    cur.close()


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling defers BEGIN until the first write, which lets a
    # reader's snapshot go stale and fail to upgrade (SQLITE_BUSY_SNAPSHOT) under concurrency.
    # Every request may write (history, ad impressions), so each transaction takes the write
    # lock up front; WAL keeps plain readers (reports, dashboard) unblocked.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        _sqlite_pragmas(dbapi_conn)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_sqlite_reader(url: str | URL, *, pool_size: int) -> Engine:
    """A second engine on the same SQLite file for reads only: no `BEGIN IMMEDIATE`, so a read
    never waits for (or holds) the write lock; each statement sees the last commit (WAL)."""
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=pool_size,
        max_overflow=2 * pool_size,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        _sqlite_pragmas(dbapi_conn)
        dbapi_conn.execute("PRAGMA query_only=ON")

    return engine


def _ensure_sqlite_folder(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)


def create_db_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine for `url`, with SQLite set up for WAL and serialised writers."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _ensure_sqlite_folder(url)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size,
            max_overflow=2 * pool_size,
            pool_pre_ping=False,
        )
        _configure_sqlite(engine)
        return engine
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=2 * pool_size,
        pool_pre_ping=True,
        pool_timeout=30,
    )


def create_null_pool_engine(url: str) -> Engine:
    """An engine without a pool, for one-off CLI work such as migrations."""
    _ensure_sqlite_folder(url)
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    engine = create_engine(parsed, poolclass=NullPool)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


# Keys of a connection's `info`: write-behind batches its open transaction wrote, and those of
# a commit not yet known to have succeeded.
_TAKEN = "write_behind_taken"
_COMMITTING = "write_behind_committing"


class Database:
    """The engine and session factory of one platform instance."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.engine = create_db_engine(url, pool_size=pool_size)
        # An in-memory SQLite database exists once per connection, so it can have no reader.
        on_file = make_url(url).database not in (None, "", ":memory:")
        self.read_engine = (
            create_sqlite_reader(url, pool_size=pool_size)
            if self.engine.dialect.name == "sqlite" and on_file
            else self.engine
        )
        self._readers = threading.local()
        self._open_readers: list[Connection] = []
        self._lock = threading.Lock()
        self.write_behind = WriteBehind(self.engine)
        self.sessionmaker = sessionmaker(
            self.engine,
            expire_on_commit=False,
            autoflush=True,
        )
        # Sessions that only read: on SQLite they never begin `BEGIN IMMEDIATE`, so they neither
        # wait for nor hold the write lock (the reader refuses writes: `query_only`).
        self.read_sessionmaker = sessionmaker(
            self.read_engine, expire_on_commit=False, autoflush=False
        )
        self._watch_sessions()

    def _watch_sessions(self) -> None:
        # Queued rows are written by the next transaction that begins, so this process reads
        # its own writes; a rollback gives them back to the queue instead of losing them. The
        # connection's own commit and rollback decide, not the session's events: those fire for
        # savepoints too, and giving back rows whose transaction later commits writes them twice.
        write_behind = self.write_behind

        @event.listens_for(self.sessionmaker, "after_begin")
        def _write_queued(_session: Session, transaction: Any, connection: Connection) -> None:
            if write_behind.pending and not transaction.nested:
                batch = write_behind.write_pending(connection)
                if batch:
                    connection.info.setdefault(_TAKEN, []).append(batch)

        @event.listens_for(self.engine, "begin")
        def _committed(connection: Connection) -> None:
            # No rollback came after the last commit: those rows are written.
            connection.info.pop(_COMMITTING, None)

        @event.listens_for(self.engine, "commit")
        def _committing(connection: Connection) -> None:
            taken = connection.info.pop(_TAKEN, None)
            if taken:
                connection.info[_COMMITTING] = taken

        @event.listens_for(self.engine, "rollback")
        def _give_back(connection: Connection) -> None:
            give_back(write_behind, connection.info.pop(_COMMITTING, ()))
            give_back(write_behind, connection.info.pop(_TAKEN, ()))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on any error: the one commit point."""
        session = self.sessionmaker()
        try:
            yield session
        except BaseException:
            self.end_session(session, commit=False)
            raise
        self.end_session(session, commit=True)

    @staticmethod
    def end_session(session: Session, *, commit: bool) -> None:
        """Commit (or roll back) and close `session`; a failed commit is rolled back."""
        try:
            if commit:
                session.commit()
            else:
                session.rollback()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def reader(self) -> Iterator[Connection]:
        """A connection for reads that must not wait for writers (e.g. a product page)."""
        with self.read_engine.connect() as connection:
            yield connection

    def on_reader(self, query: Callable[[Connection], T]) -> T:
        """Run `query` on a `reader()` connection of its own (from a worker thread)."""
        with self.reader() as connection:
            return query(connection)

    async def read(self, query: Callable[[Connection], T]) -> T:
        """Run `query` on a `reader()` connection from async code.

        On SQLite it runs right here on the event loop: a WAL read never waits for a lock, so a
        worker thread would only add a hop. Elsewhere (a network round trip) it runs in one.
        """
        if self.dialect == "sqlite" and self.read_engine is not self.engine:
            return query(self._loop_reader())

        return await anyio.to_thread.run_sync(self.on_reader, query)

    def _loop_reader(self) -> Connection:
        # The event loop's own reader, kept open: a pool checkout and return per read costs
        # more than a primary-key read itself. The driver commits every statement by itself
        # (no BEGIN is ever sent on a reader), so each read sees the latest commit.
        connection: Connection | None = getattr(self._readers, "connection", None)
        if connection is None or connection.closed:
            connection = self._readers.connection = self.read_engine.connect()
            with self._lock:
                self._open_readers.append(connection)
        return connection

    def dispose(self) -> None:
        with self._lock:
            readers, self._open_readers = self._open_readers, []
        for connection in readers:
            connection.close()
        self.write_behind.close()
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()
