"""The outcome of each door under each policy, signed and unsigned, from real requests, and the
same table in docs/agent-developers.md (so the documented outcomes are the measured ones)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from marketplace.app import create_app
from marketplace.core.clock import FrozenClock
from marketplace.core.db import Database
from marketplace.core.settings import Settings
from tests.conftest import ADMIN_TOKEN, TEST_CATALOG_SIZE, TEST_NOW, TEST_SEED
from tests.marketplace.gate import _signing

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
NOW = int(TEST_NOW.timestamp())
DOC = Path(__file__).resolve().parents[3] / "docs" / "agent-developers.md"
BEGIN = "<!-- BEGIN GENERATED: door outcomes (tests/marketplace/gate/test_door_outcomes.py) -->"
END = "<!-- END GENERATED: door outcomes -->"
POLICIES = ("closed", "open", "observe")
UNSIGNED_UA = "curl/8.5.0"
SIGNED_UA = "AcmeShopper/1.0 (+https://partner.example)"


def _mcp(method: str, tool: str | None = None) -> str:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": method}
    if tool is not None:
        message["params"] = {"name": tool, "arguments": {}}
    return json.dumps(message)


# (door, what, method, path, body): a catalog read and a checkout write at each door.
REQUESTS: tuple[tuple[str, str, str, str, str | None], ...] = (
    ("web", "read a product page", "GET", "/products/1", None),
    ("web", "check out", "POST", "/checkout", "{}"),
    ("api", "read the catalog", "GET", "/api/v1/products", None),
    ("api", "place an order", "POST", "/api/v1/orders", "{}"),
    ("ucp", "discovery", "GET", "/.well-known/ucp", None),
    ("ucp", "create a checkout", "POST", "/ucp/v1/checkout-sessions", "{}"),
    ("acp", "create a checkout", "POST", "/checkout_sessions", "{}"),
    ("acp", "complete a checkout", "POST", "/checkout_sessions/chk_x/complete", "{}"),
    ("mcp", "tools/list", "POST", "/mcp", _mcp("tools/list")),
    ("mcp", "call search_catalog", "POST", "/mcp", _mcp("tools/call", "search_catalog")),
    ("mcp", "call complete_checkout", "POST", "/mcp", _mcp("tools/call", "complete_checkout")),
)


def _cell(headers: Any) -> str:
    decision = headers["x-policy-decision"]
    observed = headers.get("x-policy-observed-action")
    if observed is not None and observed != decision:
        return f"{decision} (logged: {observed})"
    return decision


def _outcomes(policy: str, tmp_path: Path, db_url: str) -> dict[tuple[str, str, bool], str]:
    settings = Settings(
        data_dir=tmp_path / policy,
        database_url=db_url,
        admin_token=ADMIN_TOKEN,
        secret_key="test-secret-key",
        policy=policy,
        seed=TEST_SEED,
        catalog_size=TEST_CATALOG_SIZE,
    )
    database = Database(settings.resolved_database_url)
    app = create_app(settings, database=database, clock=FrozenClock(TEST_NOW))
    found: dict[tuple[str, str, bool], str] = {}
    try:
        with TestClient(app) as client:
            key: Ed25519PrivateKey = _signing.register_partner(client, ADMIN, name=f"acme-{policy}")
            for door, what, method, path, body in REQUESTS:
                for signed in (False, True):
                    headers = {
                        "user-agent": SIGNED_UA if signed else UNSIGNED_UA,
                        "content-type": "application/json",
                        "accept": "application/json",
                        "idempotency-key": f"k-{door}-{what}-{signed}",
                        "api-version": "2025-09-29",
                    }
                    if signed:
                        headers.update(_signing.sign_now(key, path=path, now=NOW, method=method))
                    answer = client.request(method, path, content=body, headers=headers)
                    assert answer.headers["x-visitor-class"] == (
                        "verified-agent" if signed else "automation"
                    )
                    found[(door, what, signed)] = _cell(answer.headers)
    finally:
        database.dispose()
    return found


def outcome_table(tmp_path: Path, db_url: str) -> str:
    """The Markdown table: one row per door and request, a column per policy and signature."""
    runs = {policy: _outcomes(policy, tmp_path, db_url) for policy in POLICIES}
    columns = [f"{policy}, {'signed' if s else 'unsigned'}" for policy in POLICIES for s in (0, 1)]
    lines = [
        "| door | request | " + " | ".join(columns) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    for door, what, _method, _path, _body in REQUESTS:
        cells = [runs[p][(door, what, s)] for p in POLICIES for s in (False, True)]
        lines.append(f"| {door} | {what} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def test_the_documented_door_outcomes_are_the_measured_ones(tmp_path: Path, db_url: str) -> None:
    table = outcome_table(tmp_path, db_url)
    text = DOC.read_text(encoding="utf-8")
    assert BEGIN in text, f"docs/agent-developers.md lacks {BEGIN}"
    documented = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert documented == table.strip(), f"docs/agent-developers.md is out of date:\n{table}"
