"""The app prints no pydantic warnings about FastAPI's own parameters while it serves."""

from __future__ import annotations

import warnings

import fastapi._compat.shared as fastapi_shared
import pytest
from fastapi.testclient import TestClient
from pydantic.warnings import UnsupportedFieldAttributeWarning

from marketplace.app import create_app
from marketplace.core.clock import FrozenClock
from marketplace.core.db import Database
from marketplace.core.settings import Settings
from tests.conftest import ADMIN_TOKEN


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """Route building does not depend on the database: SQLite only."""
    return sqlite_url


def test_routes_built_on_their_first_request_warn_about_no_alias(
    settings: Settings, database: Database, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # FastAPI builds an included router's parameter fields on the first request that reaches
    # it and silences pydantic's alias warning with `catch_warnings`, which another thread can
    # undo. Turning FastAPI's own silencing off stands in for that race, deterministically.
    monkeypatch.setattr(fastapi_shared, "PYDANTIC_VERSION_MINOR_TUPLE", (2, 11))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        app = create_app(settings, database=database, clock=clock)
        with TestClient(app) as client:
            admin = {"authorization": f"Bearer {ADMIN_TOKEN}"}
            decisions = client.get("/api/v1/decisions", params={"team": "t1"}, headers=admin)
            assert decisions.status_code == 200, decisions.text
            login = client.post(
                "/api/v1/sessions", json={"email": "a@example.com", "password": "x"}
            )
            assert login.status_code == 401, login.text
            assert client.get("/", headers={"accept": "text/html"}).status_code == 200
    alias_warnings = [
        str(w.message) for w in caught if issubclass(w.category, UnsupportedFieldAttributeWarning)
    ]
    assert alias_warnings == []
