"""A platform for an agent developer's own tests: `pytest -p sandbox.testing`.

Load it as a plugin (`pytest_plugins = ["sandbox.testing"]` in a conftest, or `-p sandbox.testing`)
and ask for `sandbox_url`: a freshly seeded platform, served over real HTTP on a free loopback port,
with the policy of the `sandbox_policy` fixture (override it, or parametrize it indirectly):

    @pytest.mark.parametrize("sandbox_policy", ["closed", "open"], indirect=True)
    def test_my_agent(sandbox_url: str, sandbox_policy: str) -> None:
        response = httpx.get(sandbox_url + "/api/v1/products", headers={"user-agent": MY_UA})
        print(response.headers["x-policy-decision"], response.headers["x-policy-rule"])

Outside code can use `running_platform(...)` directly as a context manager too.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sandbox.liveserver import LiveServer
from sandbox.persona import Personas, load_personas

DEFAULT_ADMIN_TOKEN = "sandbox-testing-admin-token"  # noqa: S105 - a throwaway test platform's token
DEFAULT_PRODUCTS = 300
DEFAULT_SEED = 7
# A fixed moment, so the seeded histories (and what the gate makes of them) repeat exactly.
SEEDED_AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Platform:
    """A running test platform: where it is and how to administer it."""

    url: str
    policy: str
    admin_token: str
    data_dir: Path
    database_url: str

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.admin_token}"}


def seed_template(
    path: Path, *, products: int, seed: int, personas: Personas | None = None
) -> Path:
    """Migrate and seed a SQLite database at `path` (catalog and personas); returns `path`.

    `personas` are the accounts to seed; the built-in personas unless given.
    """
    from marketplace.catalog.seed import seed_catalog
    from marketplace.core.db import Database
    from marketplace.core.migrate import upgrade
    from sandbox.seeding import seed_personas

    url = f"sqlite:///{path}"
    upgrade(url)
    database = Database(url)
    try:
        seed_catalog(database, products=products, seed=seed, now=SEEDED_AT)
        seed_personas(database, personas or load_personas(), seed=seed, now=SEEDED_AT)
    finally:
        database.dispose()
    # Fold the WAL into the file so a plain copy is a complete database. A bare sqlite3
    # connection, since the platform's connections open every transaction IMMEDIATE and SQLite
    # refuses a checkpoint inside one.
    with closing(sqlite3.connect(path)) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@contextmanager
def running_platform(
    policy: str = "closed",
    *,
    products: int = DEFAULT_PRODUCTS,
    seed: int = DEFAULT_SEED,
    admin_token: str = DEFAULT_ADMIN_TOKEN,
    template: Path | None = None,
    workdir: Path | None = None,
    decide_config: Any = None,
    personas: Personas | None = None,
) -> Iterator[Platform]:
    """Serve a migrated, seeded platform with `policy` on a free loopback port until exit.

    `decide_config` (a `marketplace.decide.config.DecideConfig`) overrides Help Me Decide's knobs;
    `personas` are the accounts seeded (the built-in personas unless given; not with `template`).
    """
    from marketplace.app import create_app
    from marketplace.core.settings import Settings

    with tempfile.TemporaryDirectory(prefix="sandbox-platform-") as scratch:
        root = workdir or Path(scratch)
        db_path = root / "platform.db"
        if template is not None:
            shutil.copyfile(template, db_path)
        else:
            seed_template(db_path, products=products, seed=seed, personas=personas)
        settings = Settings(
            data_dir=root / "data",
            database_url=f"sqlite:///{db_path}",
            admin_token=admin_token,
            secret_key="sandbox-testing-secret",  # noqa: S106 - a throwaway platform
            policy=policy,
            seed=seed,
            catalog_size=products,
        )
        app = create_app(settings, decide_config=decide_config)
        with LiveServer(app, trusted_proxies=settings.trusted_proxies) as server:
            yield Platform(
                url=server.url,
                policy=policy,
                admin_token=admin_token,
                data_dir=settings.data_dir,
                database_url=settings.resolved_database_url,
            )


@pytest.fixture(scope="session")
def sandbox_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One seeded database per test session; every platform starts from a copy of it."""
    folder = tmp_path_factory.mktemp("sandbox-template")
    return seed_template(folder / "template.db", products=DEFAULT_PRODUCTS, seed=DEFAULT_SEED)


@pytest.fixture
def sandbox_policy(request: pytest.FixtureRequest) -> str:
    """The policy of `sandbox_platform`: `closed` unless overridden or parametrized indirectly."""
    return str(getattr(request, "param", "closed"))


@pytest.fixture
def sandbox_platform(
    sandbox_policy: str, sandbox_template: Path, tmp_path: Path
) -> Iterator[Platform]:
    """A fresh platform (own database copy) with `sandbox_policy`, served on loopback."""
    with running_platform(sandbox_policy, template=sandbox_template, workdir=tmp_path) as platform:
        yield platform


@pytest.fixture
def sandbox_url(sandbox_platform: Platform) -> str:
    """The base URL of `sandbox_platform`, e.g. http://127.0.0.1:51234."""
    return sandbox_platform.url
