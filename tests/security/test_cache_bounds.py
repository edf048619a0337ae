"""Caches keyed by request data stay small whatever requests hold (docs/architecture.md, Bounds).

Each cache is filled with thousands of unique, large keys the way hostile requests would fill it;
the memory it keeps afterwards must stay within a small bound (measured with tracemalloc).
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from marketplace.app import create_app
from marketplace.core.clock import FrozenClock
from marketplace.core.db import Database
from marketplace.core.settings import Settings
from marketplace.gate.normalize import normalize_path
from marketplace.gate.policy.compiled import RouteMatcher
from marketplace.gate.policy.model import load_policy
from tests.conftest import ADMIN_TOKEN, CHROME_UA, TEST_NOW, TEST_SEED

MiB = 1024 * 1024


def _kept(fill: Callable[[], object]) -> float:
    """MiB still allocated after `fill()` returns (what the caches kept)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        fill()
        gc.collect()
        return (tracemalloc.get_traced_memory()[0] - before) / MiB
    finally:
        tracemalloc.stop()


def test_the_path_normaliser_keeps_no_long_paths() -> None:
    def fill() -> None:
        for i in range(1_000):
            normalize_path(f"/api/v1/products/{i}/" + "x" * 15_000)

    # 1,000 paths of 15 KB: 14 MiB if they were kept as keys.
    assert _kept(fill) < 1.0


def test_the_route_matcher_keeps_no_long_paths() -> None:
    matcher = RouteMatcher({str(k): v for k, v in load_policy("closed").routes.items()})

    def fill() -> None:
        for i in range(2_000):
            matcher.match(f"/api/v1/products/{i}/" + "x" * 4_000)

    # 2,000 paths of 4 KB: 8 MiB if they were kept as keys.
    assert _kept(fill) < 1.0


@pytest.fixture
def client(sqlite_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=sqlite_url,
        admin_token=ADMIN_TOKEN,
        secret_key="cache-secret-key",
        policy="observe",
        seed=TEST_SEED,
    )
    database = Database(sqlite_url)
    app = create_app(settings, database=database, clock=FrozenClock(TEST_NOW))
    with TestClient(app, headers={"user-agent": CHROME_UA}) as test_client:
        yield test_client
    database.dispose()


@pytest.mark.slow
def test_the_decision_log_remembers_credentials_by_digest(client: TestClient) -> None:
    # Each request's cookie and bearer are looked up once and remembered for the log's rows.
    def fill(tokens: range) -> None:
        for i in tokens:
            token = f"{i:06d}" + "t" * 15_000
            answer = client.get("/healthz", headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 200
        client.get("/api/v1/decisions", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})

    fill(range(20))  # first requests set up what every later one reuses
    # 300 tokens of 15 KB: 4.3 MiB if they were kept as keys.
    assert _kept(lambda: fill(range(20, 320))) < 1.5
