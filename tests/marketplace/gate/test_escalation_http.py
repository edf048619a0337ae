"""Escalation through HTTP: what counts as a strike, what the shopper is told, reinstatement."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from marketplace.core.appstate import state_of
from sandbox.cli import app as cli
from sandbox.liveserver import LiveServer
from tests.conftest import ADMIN_TOKEN, CHROME_UA, TEST_NOW, register_and_login
from tests.marketplace.gate import _signing

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
NOW = int(TEST_NOW.timestamp())
# What the behaviour score says about an order sent through the API by a "Chrome" that never
# viewed a product: the signal the shopper is told.
SIGNAL = "API checkout with a browser user agent and no product viewed before"


def apply_strikes(app: FastAPI) -> None:
    state_of(app).identity.state.flush()  # the background tick applies strikes every 0.2 s


def me(client: TestClient) -> dict[str, Any]:
    answer = client.get("/api/v1/me")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


@pytest.mark.parametrize("policy", ["open", "closed"])
def test_a_registered_keys_broken_clock_never_warns_or_suspends_its_shopper(
    client: TestClient, app: FastAPI
) -> None:
    key = Ed25519PrivateKey.generate()
    registered = client.post(
        "/api/v1/partners", json={"name": "skewed", "jwk": _signing.jwk(key)}, headers=ADMIN
    )
    assert registered.status_code == 201, registered.text
    register_and_login(client, "skewed-clock@example.com")
    path = "/api/v1/cart/items"
    for _ in range(7):
        # The agent's clock runs five minutes fast: every signature is "not yet valid".
        headers = _signing.sign(
            key,
            method="POST",
            authority="testserver",
            path=path,
            created=NOW + 300,
            expires=NOW + 360,
            nonce=secrets.token_urlsafe(64),
        )
        refused = client.post(path, json={"product_id": 1, "quantity": 1}, headers=headers)
        assert refused.status_code == 403, refused.text
        apply_strikes(app)
    decisions = client.get("/api/v1/decisions", params={"page_size": 1}, headers=ADMIN).json()
    signature = decisions["items"][0]["signals"]["signature"]
    assert (signature["code"], signature["registered"]) == ("not-yet-valid", True)
    assert me(client)["status"] == "active"


def order_from_an_unbrowsed_chrome(app: FastAPI, token: str, attempt: int) -> None:
    with TestClient(app, headers={"user-agent": CHROME_UA}) as api:
        answer = api.post(
            "/api/v1/orders",
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"k{attempt}"},
        )
        assert answer.headers["x-visitor-class"] == "suspected-agent", answer.headers
    apply_strikes(app)


@pytest.mark.parametrize(
    ("policy", "who_may_order"),
    [
        (
            "open",
            "The active policy (open) lets only the account holder, the store's assistant and "
            "signed agents order.",
        ),
        (
            "closed",
            "The active policy (closed) lets only the account holder and the store's assistant "
            "order.",
        ),
    ],
)
def test_the_shopper_is_told_the_active_policy_and_the_true_signal(
    client: TestClient, app: FastAPI, live_server: LiveServer, policy: str, who_may_order: str
) -> None:
    email = "flagged@example.com"
    token = register_and_login(client, email)
    order_from_an_unbrowsed_chrome(app, token, 0)  # both presets: warn after 1, suspend after 3
    warned = me(client)
    assert warned["status"] == "warned"
    assert warned["status_reason"] == (
        f"1 request on this account looked like an agent posing as a browser (latest: {SIGNAL}). "
        f"{who_may_order} At 3 such requests, ordering is suspended."
    )
    for attempt in (1, 2):
        order_from_an_unbrowsed_chrome(app, token, attempt)
    suspended = me(client)
    reason = (
        f"3 requests on this account looked like an agent posing as a browser (latest: {SIGNAL}). "
        f"{who_may_order}"
    )
    assert (suspended["status"], suspended["status_reason"]) == ("suspended", reason)
    # Under observe the gate lets the order through, so the app's own refusal is what answers;
    # the reason still quotes the policy that was active when the strikes counted.
    switched = client.put("/api/v1/policy", json={"preset": "observe"}, headers=ADMIN)
    assert switched.status_code == 200, switched.text
    refused = client.post("/api/v1/orders", headers={"Idempotency-Key": "person"})
    assert refused.status_code == 403, refused.text
    assert refused.json()["type"].endswith("/problems/account-suspended")
    assert refused.json()["detail"] == (
        f"Ordering is suspended on this account. {reason} Ask the store to review it: an "
        "administrator can reinstate the account."
    )

    assert client.put("/api/v1/policy", json={"preset": policy}, headers=ADMIN).status_code == 200

    # The administrator lifts the suspension from the CLI; the strikes are forgotten.
    result = CliRunner().invoke(
        cli,
        ["accounts", "reinstate", email, "--target", live_server.url],
        env={"SANDBOX_ADMIN_TOKEN": ADMIN_TOKEN},
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert f"{email}: suspended -> active (3 strikes forgotten)" in result.output
    assert (me(client)["status"], me(client)["status_reason"]) == ("active", None)
    order_from_an_unbrowsed_chrome(app, token, 3)  # counted afresh from zero
    assert me(client)["status_reason"].startswith("1 request on this account")


@pytest.mark.parametrize("policy", ["closed"])
def test_the_admin_api_reinstates_an_account(client: TestClient, app: FastAPI) -> None:
    email = "api-reinstated@example.com"
    token = register_and_login(client, email)
    order_from_an_unbrowsed_chrome(app, token, 0)
    assert me(client)["status"] == "warned"
    path = f"/api/v1/admin/accounts/{email}/reinstate"
    assert client.post(path).status_code == 401
    answer = client.post(path, headers=ADMIN)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "email": email,
        "account_id": me(client)["id"],
        "previous_status": "warned",
        "status": "active",
        "strikes_cleared": 1,
    }
    assert me(client)["status"] == "active"
    unknown = client.post("/api/v1/admin/accounts/nobody@example.com/reinstate", headers=ADMIN)
    assert unknown.status_code == 404
    assert unknown.json()["type"].endswith("/problems/unknown-account")
