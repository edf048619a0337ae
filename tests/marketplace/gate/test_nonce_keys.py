"""Used nonces of any legal length are stored on both databases, and an upgrade forgets none."""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

from marketplace.core.db import Database
from marketplace.core.migrate import _ALEMBIC_LOCK, alembic_config, upgrade
from marketplace.core.shared.database_store import DatabaseStore
from marketplace.core.shared.nonce_file import NONCE_FILE_SUFFIX, nonce_engine
from marketplace.gate.identity.verify import replay_key
from tests.marketplace.gate import _identity_db

# Fixtures shared with the other identity tests.
gate_database = _identity_db.gate_database
migrated_url = _identity_db.migrated_url

T = 1_780_315_200.0
KEYID = "WfFeE81CbUqsFj4Nrk34gV4YIKn1RQ6ISMlwHCsXTGs"
_counter = itertools.count()


def nonce(size: int) -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(size)).decode().rstrip("=")


@pytest.mark.parametrize("size", [16, 64, 96, 128, 512])
def test_a_nonce_of_any_length_is_claimed_once(gate_database: Database, size: int) -> None:
    store = DatabaseStore(gate_database.engine)
    try:
        for key in (replay_key(KEYID, nonce(size), b""), f"n:{KEYID}:{nonce(size)}"):
            assert store.claim_nonce(key, T, 60) is True
            assert store.claim_nonce(key, T + 1, 60) is False
    finally:
        store.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    server_url: str = request.getfixturevalue("postgres_server_url")
    name = f"nonces_{os.getpid()}_{next(_counter)}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = server_url.rpartition("/")
    yield f"{base}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_the_upgrade_rewrites_used_nonces_as_the_keys_the_gate_looks_up(empty_url: str) -> None:
    with _ALEMBIC_LOCK:
        command.upgrade(alembic_config(empty_url), "0009")
    used = nonce(32)
    signature = secrets.token_bytes(64)
    old_keys = [f"n:{KEYID}:{used}", f"s:{hashlib.sha256(signature).hexdigest()}"]
    engine = create_engine(empty_url)
    with engine.begin() as conn:
        for key in old_keys:
            conn.execute(
                text("INSERT INTO gate_nonces (key, expires_at) VALUES (:k, :e)"),
                {"k": key, "e": T + 600},
            )
    upgrade(empty_url)
    with engine.connect() as conn:
        stored = set(conn.execute(text("SELECT key FROM gate_nonces")).scalars())
    column = next(c for c in inspect(engine).get_columns("gate_nonces") if c["name"] == "key")
    engine.dispose()
    assert stored == {replay_key(KEYID, used, b""), replay_key(KEYID, None, signature)}
    assert getattr(column["type"], "length", None) == 64
    with _ALEMBIC_LOCK:
        command.downgrade(alembic_config(empty_url), "0009")


def test_the_sqlite_nonce_file_is_rewritten_too(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gate.db'}"
    upgrade(url)
    used = nonce(32)
    engine = nonce_engine(f"{tmp_path / 'gate.db'}{NONCE_FILE_SUFFIX}")
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO gate_nonces (key, expires_at) VALUES (:k, :e)"),
            {"k": f"n:{KEYID}:{used}", "e": T + 600},
        )
    engine.dispose()
    database = Database(url)
    store = DatabaseStore(database.engine)
    try:
        assert store.claim_nonce(replay_key(KEYID, used, b""), T, 60) is False
    finally:
        store.close()
        database.dispose()
