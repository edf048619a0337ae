"""Request-scoped dependencies shared by every domain's routes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from marketplace.core.clock import Clock
from marketplace.core.db import Database
from marketplace.core.settings import Settings


def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_session(request: Request) -> Iterator[Session]:
    """One session per request, committed here and nowhere else, before the response is sent."""
    with get_database(request).session() as session:
        yield session


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


def get_now(request: Request) -> datetime:
    return get_clock(request)()


def visitor_class(request: Request) -> str:
    """The gate's class for this request (`human` when no gate ran, e.g. in unit tests)."""
    return str(getattr(request.state, "visitor_class", "human"))


# scope="function" closes (and commits) the session when the endpoint returns, before the
# response goes out, so a failed commit becomes an error response rather than a lost write.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
ClockDep = Annotated[Clock, Depends(get_clock)]
NowDep = Annotated[datetime, Depends(get_now)]
VisitorClassDep = Annotated[str, Depends(visitor_class)]
