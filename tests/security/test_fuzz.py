"""API fuzzing: schemathesis generates requests from /openapi.json; no 5xx, answers fit the schema.

Bounded and derandomised (hypothesis' derandomize), so CI runs the same examples every time. Three
callers: anonymous, a logged-in shopper and the admin. Errors are checked too: every operation
documents its 4xx and 503 answers as problem+json, so clients generated from the schema parse them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from marketplace.app import create_app
from marketplace.core.clock import FrozenClock
from marketplace.core.db import Database
from marketplace.core.settings import Settings
from tests.conftest import ADMIN_TOKEN, CHROME_UA, TEST_NOW, TEST_SEED, register_and_login
from tests.marketplace._shop import quiet_gate_policy

MAX_EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Operations a caller must not run mid-fuzz: logging the shopper out would turn every later
# example into a 401; a workshop start hashes a password per team (seconds per example).
SKIP = {
    "shopper": {("DELETE", "/api/v1/sessions/current")},
    "admin": {("POST", "/api/v1/admin/workshop")},
}


@pytest.fixture
def fuzz_app(sqlite_url: str, tmp_path: Path) -> Iterator[FastAPI]:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=sqlite_url,
        admin_token=ADMIN_TOKEN,
        secret_key="fuzz-secret-key",
        policy=quiet_gate_policy(tmp_path),
        seed=TEST_SEED,
    )
    database = Database(sqlite_url)
    yield create_app(settings, database=database, clock=FrozenClock(TEST_NOW))
    database.dispose()


def _caller_headers(caller: str, client: TestClient) -> dict[str, str]:
    headers = {"user-agent": CHROME_UA}
    if caller == "shopper":
        headers["Authorization"] = f"Bearer {register_and_login(client, 'fuzz@example.com')}"
    elif caller == "admin":
        headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
    return headers


@pytest.mark.slow
@pytest.mark.parametrize("caller", ["anonymous", "shopper", "admin"])
def test_no_server_errors_and_answers_match_the_schema(
    fuzz_app: FastAPI, caller: str, record_property: Any
) -> None:
    with TestClient(fuzz_app, headers={"user-agent": CHROME_UA}) as client:
        headers = _caller_headers(caller, client)
        schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
        examples = 0
        operations = 0
        failures: dict[str, str] = {}
        for result in schema.get_all_operations():
            operation = result.ok()
            if (operation.method.upper(), operation.path) in SKIP.get(caller, set()):
                continue
            operations += 1

            @settings(
                max_examples=MAX_EXAMPLES,
                derandomize=True,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy())
            def run(case: schemathesis.Case) -> None:
                nonlocal examples
                examples += 1
                response = case.call(app=fuzz_app, headers=headers)
                case.validate_response(response, checks=CHECKS, headers=headers)

            try:
                run()
            except BaseException as exc:  # FailureGroup is an ExceptionGroup: keep the message
                if isinstance(exc, KeyboardInterrupt):
                    raise
                failures[operation.label] = str(exc)[:2000]
        record_property("fuzz_examples", examples)
        print(f"\nfuzz[{caller}]: {examples} examples over {operations} operations")
    assert operations >= 25
    assert examples >= operations * 5
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
