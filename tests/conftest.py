"""Shared fixtures: a fresh, seeded database per test (SQLite and PostgreSQL), the app, clients."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from marketplace.app import create_app
from marketplace.core.clock import FrozenClock
from marketplace.core.db import Database
from marketplace.core.migrate import upgrade
from marketplace.core.settings import Settings
from sandbox.liveserver import LiveServer
from shopbots.browser import CHROMIUM_ARGS as BROWSER_FLAGS
from tests.support.postgres import PostgresServer, find_pg_bin

# Tests run at a fixed moment so histories, sessions and windows are reproducible.
TEST_NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TEST_SEED = 7
TEST_CATALOG_SIZE = 300
ADMIN_TOKEN = "test-admin-token"
CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)

REQUIRED = {p.strip() for p in os.environ.get("SANDBOX_TEST_REQUIRE", "").split(",") if p.strip()}


def skip_or_fail(component: str, reason: str) -> None:
    """Skip on a laptop without the component; fail where CI said it must be there."""
    if component in REQUIRED:
        pytest.fail(f"{reason} (SANDBOX_TEST_REQUIRE makes {component} tests mandatory)")
    pytest.skip(reason)


def seed_database(database: Database, *, now: datetime) -> None:
    """The small, deterministic world every test starts from: a catalog and the personas."""
    from marketplace.catalog.seed import seed_catalog
    from sandbox.persona import load_personas
    from sandbox.seeding import seed_personas

    seed_catalog(database, products=TEST_CATALOG_SIZE, seed=TEST_SEED, now=now)
    seed_personas(database, load_personas(), seed=TEST_SEED, now=now)


# --- SQLite -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    database = Database(url)
    try:
        seed_database(database, now=TEST_NOW)
        # Outside any transaction: every SQLAlchemy transaction here starts with BEGIN
        # IMMEDIATE, and SQLite refuses a checkpoint inside one ("database table is locked").
        raw = database.engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
        finally:
            raw.close()
    finally:
        database.dispose()
    return path


# --- PostgreSQL ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    configured = os.environ.get("SANDBOX_TEST_POSTGRES_URL")
    if configured:
        yield configured
        return
    bin_dir = find_pg_bin()
    if bin_dir is None:
        skip_or_fail(
            "postgres",
            "PostgreSQL is not installed: `apt-get install postgresql` or set "
            "SANDBOX_TEST_POSTGRES_URL to run the PostgreSQL tests",
        )
    server = PostgresServer(bin_dir)  # type: ignore[arg-type]
    try:
        url = server.start()
    except Exception as exc:  # pragma: no cover - depends on the machine
        server.stop()
        skip_or_fail("postgres", f"could not start PostgreSQL: {exc}")
        raise
    yield url
    server.stop()


def _admin_engine(server_url: str):  # type: ignore[no-untyped-def]
    return create_engine(server_url, isolation_level="AUTOCOMMIT")


def _with_database(server_url: str, name: str) -> str:
    base, _, _ = server_url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def postgres_template(postgres_server_url: str) -> str:
    name = "sandbox_template"
    engine = _admin_engine(postgres_server_url)
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = _with_database(postgres_server_url, name)
    upgrade(url)
    database = Database(url)
    try:
        seed_database(database, now=TEST_NOW)
    finally:
        database.dispose()
    engine.dispose()
    return name


_db_counter = itertools.count()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh copy of the seeded test database, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "test.db"
        shutil.copyfile(template, target)
        yield f"sqlite:///{target}"
        return
    server_url: str = request.getfixturevalue("postgres_server_url")
    template_name: str = request.getfixturevalue("postgres_template")
    name = f"test_{os.getpid()}_{next(_db_counter)}"
    engine = _admin_engine(server_url)
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"'))
    yield _with_database(server_url, name)
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh copy of the seeded SQLite database, for tests that need only the default store."""
    target = tmp_path / "test.db"
    shutil.copyfile(sqlite_template, target)
    return f"sqlite:///{target}"


# --- The app ------------------------------------------------------------------------------


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(TEST_NOW)


@pytest.fixture
def policy() -> str:
    """The gate's policy for a test; domain tests watch traffic without refusing any."""
    return "observe"


@pytest.fixture
def settings(tmp_path: Path, db_url: str, policy: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        admin_token=ADMIN_TOKEN,
        secret_key="test-secret-key",
        policy=policy,
        seed=TEST_SEED,
        catalog_size=TEST_CATALOG_SIZE,
    )


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    database = Database(settings.resolved_database_url)
    yield database
    database.dispose()


@pytest.fixture
def app(settings: Settings, database: Database, clock: FrozenClock) -> FastAPI:
    return create_app(settings, database=database, clock=clock)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, headers={"user-agent": CHROME_UA}) as test_client:
        yield test_client


@pytest.fixture
def live_server(app: FastAPI, settings: Settings) -> Iterator[LiveServer]:
    """The app over real HTTP on a free loopback port."""
    with LiveServer(app, max_header_bytes=settings.max_header_bytes) as server:
        yield server


def register_and_login(
    client: TestClient, email: str, password: str = "correct-horse-9", name: str = "Test Shopper"
) -> str:
    """Register `email`, log in with it and return the bearer token (the cookie is set too)."""
    created = client.post(
        "/api/v1/accounts", json={"email": email, "password": password, "name": name}
    )
    assert created.status_code == 201, created.text
    login = client.post("/api/v1/sessions", json={"email": email, "password": password})
    assert login.status_code == 200, login.text
    token: str = login.json()["access_token"]
    return token


# --- The browser --------------------------------------------------------------------------

# The same flags the disguised-browser agent uses: no background traffic on a closed network.
CHROMIUM_ARGS = list(BROWSER_FLAGS)


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """Debian's chromium; Playwright drives it through `executable_path`, never a download."""
    path = os.environ.get("SANDBOX_CHROMIUM") or shutil.which("chromium")
    if not path:
        skip_or_fail(
            "browser",
            "chromium is not installed: `apt-get install chromium` to run the browser tests",
        )
    return str(path)


@pytest.fixture(scope="session")
def browser(chromium_executable: str):  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_executable, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()
