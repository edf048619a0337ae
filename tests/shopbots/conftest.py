"""Fixtures for the outside agents' tests: a live platform on SQLite with a real clock."""

from __future__ import annotations

import pytest

from marketplace.core.clock import Clock, system_clock

# The agent developers' plugin, loaded the way their own conftest would load it.
from sandbox.testing import (  # noqa: F401
    sandbox_platform,
    sandbox_policy,
    sandbox_template,
    sandbox_url,
)


@pytest.fixture
def policy(request: pytest.FixtureRequest) -> str:
    """The gate's policy; parametrize it indirectly (`["closed", "open"]`)."""
    return str(getattr(request, "param", "observe"))


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """SQLite only: the agents see HTTP, so the database behind it does not change their story."""
    return sqlite_url


@pytest.fixture
def clock() -> Clock:
    """Real time: agents sign with `created`/`expires` from the wall clock, as real agents do."""
    return system_clock
