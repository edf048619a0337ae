"""Bounds on the numbers that reach the database, checked by the services themselves.

Ids are 64-bit integers in every table: a larger one names nothing, and handing it to the driver
raises OverflowError (SQLite) or a numeric error (PostgreSQL) instead of a clear answer.
"""

from __future__ import annotations

MAX_ID = 2**63 - 1


def is_id(value: int) -> bool:
    """True when `value` can be a row id (1 to 2**63 - 1)."""
    return 1 <= value <= MAX_ID
