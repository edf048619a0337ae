"""Request-scoped dependencies shared by every domain's routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from marketplace.core.appstate import request_state
from marketplace.core.clock import Clock
from marketplace.core.db import Database
from marketplace.core.settings import Settings

# The small dependencies below are `async def` on purpose: FastAPI runs a plain `def`
# dependency in a worker thread, and a thread hop costs more than these functions do.


async def get_database(request: Request) -> Database:
    return request_state(request).db


# Request transactions that may be open at once on PostgreSQL: below the connection pool (30)
# and half of anyio's worker threads (40), so open transactions always find a thread to finish in.
POSTGRES_CONCURRENT_SESSIONS = 20


async def database_turn(request: Request) -> AsyncIterator[None]:
    """Queue for a database session in the event loop rather than in a worker thread.

    A request that waits for a lock (SQLite's write lock, which every transaction takes up
    front; a PostgreSQL row lock) or for a pooled connection blocks its worker thread. With
    enough such waiters anyio's 40 threads are all taken, and the request holding the lock
    gets no thread to commit in until timeouts fail the rest. Waiting here holds no thread:
    SQLite gets one turn at a time (its writers are serial anyway), PostgreSQL a bounded number.
    """
    async with _turns(request):
        yield


async def read_turn(request: Request) -> AsyncIterator[None]:
    """A turn (`database_turn`) for a read served in a worker thread with a pooled connection;
    none on SQLite, whose reads wait for no lock."""
    if request_state(request).db.dialect == "sqlite":
        yield
        return
    async with _turns(request):
        yield


def _turns(request: Request) -> asyncio.Semaphore:
    state = request_state(request)
    queues = state.database_turns
    loop = asyncio.get_running_loop()
    turns = queues.get(loop)
    if turns is None:
        sqlite = state.db.dialect == "sqlite"
        turns = queues[loop] = asyncio.Semaphore(1 if sqlite else POSTGRES_CONCURRENT_SESSIONS)
    return turns


async def get_session(
    request: Request,
    _turn: Annotated[None, Depends(database_turn, scope="function")],
) -> AsyncIterator[Session]:
    """One session per request, committed here and nowhere else, before the response is sent.

    Creating a session does no I/O, so it happens on the event loop; so does closing one that
    never began a transaction (e.g. an anonymous visitor's product page). Only a commit or
    rollback goes to a worker thread: FastAPI would otherwise hop threads twice per request.
    """
    session = request_state(request).db.sessionmaker()
    try:
        yield session
    except BaseException:
        await _finish(session, commit=False)
        raise
    await _finish(session, commit=True)


async def get_read_session(request: Request) -> AsyncIterator[Session]:
    """A session for a request that only reads (a product page): on SQLite it takes no turn and
    no write lock, and refuses writes; nothing is committed. Closing it ends the driver's read,
    which costs nothing on SQLite, so there it stays on the event loop.

    Elsewhere it takes a turn like any session: its pooled connection would otherwise be one
    more for which a thread may wait while a writer waits for a thread to commit in."""
    database = request_state(request).db
    if database.dialect == "sqlite":
        with database.read_sessionmaker() as session:
            yield session
        return
    async with _turns(request):
        session = database.read_sessionmaker()
        try:
            yield session
        finally:
            if session.in_transaction():
                await run_in_threadpool(session.close)
            else:
                session.close()


async def _finish(session: Session, *, commit: bool) -> None:
    if (
        not session.in_transaction()
        and not session.new
        and not session.dirty
        and not session.deleted
    ):
        session.close()
        return
    await run_in_threadpool(Database.end_session, session, commit=commit)


async def get_settings_dep(request: Request) -> Settings:
    return request_state(request).settings


async def get_clock(request: Request) -> Clock:
    return request_state(request).clock


async def get_now(request: Request) -> datetime:
    return request_state(request).clock()


async def visitor_class(request: Request) -> str:
    """The gate's class for this request (`human` when no gate ran, e.g. in unit tests)."""
    return str(getattr(request.state, "visitor_class", "human"))


# scope="function" closes (and commits) the session when the endpoint returns, before the
# response goes out, so a failed commit becomes an error response rather than a lost write.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]
ReadTurnDep = Annotated[None, Depends(read_turn, scope="function")]
DatabaseDep = Annotated[Database, Depends(get_database)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
ClockDep = Annotated[Clock, Depends(get_clock)]
NowDep = Annotated[datetime, Depends(get_now)]
VisitorClassDep = Annotated[str, Depends(visitor_class)]
