"""Retention: old gate decisions and history are pruned by a running app and by `sandbox prune`.

Finding 4 of the hostile-input review: `gate_decisions` and `history_events` grew about 1 KB per
request with nothing ever removed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select

from marketplace.core.clock import FrozenClock
from marketplace.core.db import Database
from marketplace.core.settings import Settings
from marketplace.decide.config import DecideConfig
from marketplace.gate.models import GateDecision
from marketplace.history.models import HistoryEvent

MARK = "/retention-test"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"retention_days": 30, "history_retention_days": 365})


def decision(at: datetime, path: str = MARK) -> dict[str, Any]:
    return {
        "at": at,
        "method": "GET",
        "path": path,
        "raw_path": path,
        "route_class": "other",
        "visitor_class": "human",
        "rule": "test",
        "action": "allow",
        "enforced": True,
        "status": 200,
        "policy": "observe",
        "policy_version": 0,
        "bot_score": None,
        "signals": {},
        "agent": None,
        "session": None,
        "account_id": None,
        "team": None,
        "client_ip": None,
        "user_agent": "test",
        "latency_us": 1,
    }


def event(at: datetime) -> dict[str, Any]:
    return {"session_key": "retention-test", "kind": "search", "query": "x", "created_at": at}


def add_rows(database: Database, now: datetime) -> None:
    with database.engine.begin() as connection:
        connection.execute(
            insert(GateDecision),
            [decision(now - timedelta(days=days)) for days in (400, 31, 29, 1) for _ in range(3)],
        )
        connection.execute(
            insert(HistoryEvent),
            [event(now - timedelta(days=days)) for days in (400, 366, 200, 1) for _ in range(3)],
        )


def ages(database: Database, now: datetime) -> tuple[list[int], list[int]]:
    """The ages in days of the test's decision and history rows still there."""
    with database.engine.connect() as connection:
        decisions = connection.execute(
            select(GateDecision.at).where(GateDecision.path == MARK)
        ).scalars()
        events = connection.execute(
            select(HistoryEvent.created_at).where(HistoryEvent.session_key == "retention-test")
        ).scalars()
        return (
            sorted({(now - at).days for at in decisions}),
            sorted({(now - at).days for at in events}),
        )


def test_a_running_app_prunes_old_rows(
    client: TestClient, database: Database, clock: FrozenClock
) -> None:
    add_rows(database, clock())
    assert ages(database, clock()) == ([1, 29, 31, 400], [1, 200, 366, 400])
    client.get("/healthz")  # traffic starts the decision log's tick, which prunes
    deadline = time.monotonic() + 20
    while ages(database, clock()) != ([1, 29], [1, 200]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ages(database, clock()) == ([1, 29], [1, 200])


def test_history_is_kept_beyond_what_help_me_decide_learns_from() -> None:
    defaults = Settings()
    assert defaults.history_retention_days >= DecideConfig().history_window_days
    assert defaults.retention_days > 0  # a workshop's store does not grow forever


# --- sandbox prune ---------------------------------------------------------------------------


def sandbox_prune(url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "SANDBOX_DATABASE_URL": url, "COLUMNS": "200", **env}
    return subprocess.run(
        [sys.executable, "-m", "sandbox", "prune", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_sandbox_prune(sqlite_url: str) -> None:
    database = Database(sqlite_url)
    now = datetime.now(UTC)
    try:
        add_rows(database, now)

        dry = sandbox_prune(sqlite_url, "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert "gate decisions: would remove 6 older than 30 days" in dry.stdout
        assert "history events: would remove 6 older than 365 days" in dry.stdout
        assert ages(database, now) == ([1, 29, 31, 400], [1, 200, 366, 400])

        kept = sandbox_prune(sqlite_url, SANDBOX_HISTORY_RETENTION_DAYS="0")
        assert kept.returncode == 0, kept.stderr
        assert "gate decisions: removed 6 older than 30 days" in kept.stdout
        assert "history events: kept forever (SANDBOX_HISTORY_RETENTION_DAYS=0)" in kept.stdout
        assert ages(database, now) == ([1, 29], [1, 200, 366, 400])

        short = sandbox_prune(sqlite_url, "--older-than", "10")
        assert short.returncode == 0, short.stderr
        assert "gate decisions: removed 3 older than 10 days" in short.stdout
        assert "Help Me Decide learns from" in short.stdout  # 10 days cut into its window
        assert ages(database, now) == ([1], [1])
        with database.engine.connect() as connection:
            older = select(func.count()).where(HistoryEvent.created_at < now - timedelta(days=10))
            assert connection.execute(older).scalar_one() == 0  # the seeded history too
    finally:
        database.dispose()


@pytest.mark.slow
def test_sandbox_prune_names_an_unprepared_database(tmp_path: Path) -> None:
    result = sandbox_prune(f"sqlite:///{tmp_path / 'empty.db'}")
    assert result.returncode == 2
    assert "sandbox serve" in result.stderr


@pytest.mark.slow
def test_sandbox_prune_help_has_an_example(sqlite_url: str) -> None:
    result = sandbox_prune(sqlite_url, "--help")
    assert result.returncode == 0
    assert "Example: sandbox prune --older-than 7 --dry-run" in result.stdout
