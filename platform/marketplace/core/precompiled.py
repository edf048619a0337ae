"""A SQLAlchemy statement compiled once per dialect and run straight on the driver's connection.

For the few statements on a hot path (a product page's read, a signed request's nonce claim)
SQLAlchemy's execution path (cache lookup, execution context, result object) costs more than
what the database does. The statement is still written with SQLAlchemy and compiled by it;
only the execution skips it. Use it for statements whose parameters and columns the driver
converts by itself (strings, numbers): no bind or result processor runs.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement


class Precompiled:
    """`statement`, compiled on first use for each dialect it runs on."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None]] = {}
        self._lock = threading.Lock()

    def _for(self, dialect: Dialect) -> tuple[str, tuple[str, ...] | None]:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            with self._lock:
                result = self.statement.compile(dialect=dialect)
                positions = getattr(result, "positiontup", None)
                names = tuple(positions or ()) if dialect.positional else None
                compiled = self._compiled[dialect.name] = (result.string, names)
        return compiled

    def rows(self, connection: Connection, values: Mapping[str, Any]) -> list[Sequence[Any]]:
        """Every row of the statement run on `connection`'s driver connection."""
        return self.rows_on(connection.connection.dbapi_connection, connection.dialect, values)

    def rows_on(
        self, driver_connection: Any, dialect: Dialect, values: Mapping[str, Any]
    ) -> list[Sequence[Any]]:
        """Every row of the statement run on a driver (DBAPI) connection."""
        sql, names = self._for(dialect)
        params: Any = [values[n] for n in names] if names is not None else dict(values)
        cursor = driver_connection.cursor()
        try:
            cursor.execute(sql, params)
            # Reading to the end also finishes (and, in autocommit, commits) the statement.
            return list(cursor.fetchall()) if cursor.description is not None else []
        finally:
            cursor.close()
