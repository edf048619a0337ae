"""Workshop teams against a mischievous participant, on a live store served by two uvicorn workers.

Two teams follow the handout; an attacker registers team addresses, replays another team's token
with refused tools, and buys up the challenge product. Each test drives the store only over HTTP
(and the `sandbox workshop` command); requests alternate between the two worker processes, which
share one SQLite file, as `sandbox serve --workers 2` does.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from sandbox.cli import app as cli
from tests.conftest import CHROME_UA
from tests.support.workers import Worker

# One store per module, started once: the tests run in order on one xdist worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("workshop-fairness")]

REPO = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "workshop-fairness-admin"
ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}
CURL = "curl/8.5.0"
GPTBOT = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; GPTBot/1.2"
TOOL = "python-httpx/0.28.1"


@dataclass
class Store:
    one: Worker
    two: Worker
    db_path: Path

    def policy(self, preset: str) -> None:
        """Switch the policy through worker one and wait until worker two enforces it too."""
        switched = httpx.put(
            f"{self.one.url}/api/v1/policy", json={"preset": preset}, headers=ADMIN
        )
        assert switched.status_code == 200, switched.text
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            names = {
                httpx.get(f"{w.url}/api/v1/policy", headers=ADMIN).json()["name"]
                for w in (self.one, self.two)
            }
            if names == {preset}:
                return
            time.sleep(0.05)
        raise AssertionError(f"the workers did not both switch to {preset}")

    def workshop(self, teams: int = 2, **options: Any) -> dict[str, Any]:
        response = httpx.post(
            f"{self.one.url}/api/v1/admin/workshop",
            json={"teams": teams, **options},
            headers=ADMIN,
            timeout=60,
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def board(self) -> list[dict[str, Any]]:
        """The scoreboard's rows of team-01 and team-02 (the teams every test starts)."""
        rows: list[dict[str, Any]] = httpx.get(
            f"{self.two.url}/api/v1/admin/workshop/scoreboard", headers=ADMIN
        ).json()["teams"]
        return [row for row in rows if row["team"] in ("team-01", "team-02")]

    def settle(self) -> None:
        """Let both workers write their decision logs and apply queued strikes (0.2 s ticks)."""
        time.sleep(1.0)

    def sql(self, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        with closing(sqlite3.connect(self.db_path, timeout=10)) as raw, raw:
            return raw.execute(statement, params).fetchall()


@pytest.fixture(scope="module")
def store(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    folder = tmp_path_factory.mktemp("workshop-store")
    db_path = folder / "store.db"
    shutil.copyfile(sqlite_template, db_path)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "platform"), str(REPO)]),
        "SANDBOX_DATABASE_URL": f"sqlite:///{db_path}",
        "SANDBOX_DATA_DIR": str(folder / "data"),
        "SANDBOX_ADMIN_TOKEN": ADMIN_TOKEN,
        "SANDBOX_SECRET_KEY": "workshop-fairness-secret",
        "SANDBOX_POLICY": "closed",
    }
    one = Worker(env, folder / "one.log")
    two = Worker(env, folder / "two.log")
    try:
        one.wait_ready()
        two.wait_ready()
        yield Store(one, two, db_path)
    finally:
        one.stop()
        two.stop()


@pytest.fixture
def closed_store(store: Store) -> Store:
    store.policy("closed")
    return store


def bearer(token: str, user_agent: str = CHROME_UA) -> dict[str, str]:
    return {"authorization": f"Bearer {token}", "user-agent": user_agent}


def me(worker: Worker, token: str) -> httpx.Response:
    # Admin-free and classed `human` under every preset: a browser user agent on /api/v1/me.
    return httpx.get(f"{worker.url}/api/v1/me", headers=bearer(token))


def order(worker: Worker, token: str, product_id: int, quantity: int = 1) -> httpx.Response:
    """Add the product to the cart and order it (run under `observe`: the gate refuses nothing,
    so what answers is the store itself: stock, suspension)."""
    headers = bearer(token)
    added = httpx.post(
        f"{worker.url}/api/v1/cart/items",
        json={"product_id": product_id, "quantity": quantity},
        headers=headers,
    )
    if added.status_code not in (200, 201):
        return added
    return httpx.post(
        f"{worker.url}/api/v1/orders",
        headers={**headers, "Idempotency-Key": secrets.token_hex(8)},
    )


def squat(store: Store, email: str) -> str:
    """An account at a team's address as a store from before the reservation could hold one, and
    a live token for it; returns the token."""
    now = datetime.now(UTC)
    token = secrets.token_urlsafe(32)
    store.sql(
        "INSERT INTO accounts (email, name, password_hash, status, created_at) "
        "VALUES (?, 'Squatter', 'x', 'active', ?)",
        email,
        now.isoformat(),
    )
    (account_id,) = store.sql("SELECT id FROM accounts WHERE email = ?", email)[0]
    store.sql(
        "INSERT INTO auth_sessions (token_hash, account_id, kind, created_at, expires_at) "
        "VALUES (?, ?, 'api', ?, ?)",
        hashlib.sha256(token.encode()).hexdigest(),
        account_id,
        now.isoformat(),
        (now + timedelta(days=1)).isoformat(),
    )
    return token


# --- identities -------------------------------------------------------------------------------


def test_shoppers_cannot_register_a_team_address(closed_store: Store) -> None:
    for email, worker in (
        ("team-01@teams.nile.example", closed_store.one),
        ("Team-07@TEAMS.nile.example", closed_store.two),
    ):
        response = httpx.post(
            f"{worker.url}/api/v1/accounts",
            json={"email": email, "password": "correct-horse-9", "name": "Squatter"},
            headers={"user-agent": CHROME_UA},
        )
        assert response.status_code == 403, response.text
        assert response.json()["type"].endswith("reserved-email")
        assert "reserved for workshop teams" in response.json()["detail"]


def test_the_workshop_refuses_an_account_it_did_not_create(closed_store: Store) -> None:
    store = closed_store
    stolen = squat(store, "team-03@teams.nile.example")
    refused = httpx.post(
        f"{store.one.url}/api/v1/admin/workshop", json={"teams": 3}, headers=ADMIN, timeout=60
    )
    assert refused.status_code == 409, refused.text
    assert "team-03@teams.nile.example" in refused.json()["detail"]
    assert me(store.two, stolen).json()["team"] is None  # it did not become a team

    result = CliRunner().invoke(
        cli,
        ["workshop", "--teams", "3", "--target", store.one.url, "--admin-token", ADMIN_TOKEN],
        terminal_width=400,
    )
    assert result.exit_code == 2
    assert "--evict-squatters" in result.output

    started = store.workshop(3, evict_squatters=True)
    assert me(store.two, stolen).status_code == 401  # logged out everywhere, off the address
    team = me(store.one, started["teams"][2]["access_token"]).json()
    assert (team["email"], team["team"]) == ("team-03@teams.nile.example", "team-03")


def test_a_new_start_ends_every_earlier_session_of_the_teams(closed_store: Store) -> None:
    store = closed_store
    first = store.workshop(2)["teams"][0]
    login = httpx.post(
        f"{store.two.url}/api/v1/sessions",
        json={"email": first["email"], "password": first["password"]},
        headers={"user-agent": CHROME_UA},
    )
    assert login.status_code == 200, login.text
    earlier = [first["access_token"], login.json()["access_token"]]
    assert all(me(store.one, token).status_code == 200 for token in earlier)

    again = store.workshop(2)["teams"][0]
    for token in earlier:
        assert me(store.one, token).status_code == 401
        assert me(store.two, token).status_code == 401
    assert me(store.two, again["access_token"]).json()["team"] == "team-01"


# --- strikes, suspension and the scoreboard -------------------------------------------------


def test_a_stolen_token_neither_moves_a_rank_nor_suspends_its_team(closed_store: Store) -> None:
    store = closed_store
    # Suspensions on, to show that the attacker's requests do not count even then.
    started = store.workshop(2, suspend_accounts=True)
    product_id = started["product"]["id"]
    victim, rival = (t["access_token"] for t in started["teams"])
    store.policy("observe")
    assert order(store.one, victim, product_id).status_code == 201
    assert order(store.two, rival, product_id).status_code == 201
    store.settle()
    before = {row["team"]: row["rank"] for row in store.board()}
    assert before == {"team-01": 1, "team-02": 2}

    store.policy("closed")
    for n in range(5):  # a tool at the cart: automation, a strike-worthy refusal
        refused = httpx.post(
            f"{(store.one, store.two)[n % 2].url}/api/v1/cart/items",
            json={"product_id": product_id, "quantity": 1},
            headers=bearer(victim, CURL),
        )
        assert refused.status_code == 403
    for n in range(5):  # a browser user agent ordering through the API: suspected-agent
        refused = httpx.post(
            f"{(store.one, store.two)[n % 2].url}/api/v1/orders",
            headers={**bearer(victim), "Idempotency-Key": f"sabotage-{n}"},
        )
        assert refused.status_code == 403
    for n in range(10):  # a crawler with the team's token
        refused = httpx.get(
            f"{(store.one, store.two)[n % 2].url}/api/v1/me", headers=bearer(victim, GPTBOT)
        )
        assert refused.status_code == 403
    store.settle()

    after = store.board()
    assert {row["team"]: row["rank"] for row in after} == before
    assert {row["team"]: row["status"] for row in after} == {
        "team-01": "active",
        "team-02": "active",
    }
    # The team's real members still order.
    store.policy("observe")
    again = order(store.two, victim, product_id)
    assert again.status_code == 201, again.text


def test_a_team_following_the_handout_with_a_tool_is_not_locked_out(closed_store: Store) -> None:
    store = closed_store
    started = store.workshop(2)
    product_id = started["product"]["id"]
    token = started["teams"][0]["access_token"]
    for n in range(5):
        refused = httpx.post(
            f"{(store.one, store.two)[n % 2].url}/api/v1/cart/items",
            json={"product_id": product_id, "quantity": 1},
            headers=bearer(token, TOOL),
        )
        assert refused.status_code == 403
        assert refused.headers["x-visitor-class"] == "automation"
    store.settle()
    store.policy("observe")
    placed = order(store.one, token, product_id)
    assert placed.status_code == 201, placed.text


def test_suspension_needs_the_switch_and_an_organiser_reinstates(closed_store: Store) -> None:
    """The team's own client, logged in with the password, proves it is the team: its flagged
    requests count. Without the switch they warn; with it they suspend, until reinstated."""
    store = closed_store

    def misbehave(token: str, times: int) -> None:
        for n in range(times):
            refused = httpx.post(
                f"{(store.one, store.two)[n % 2].url}/api/v1/orders",
                headers={**bearer(token), "Idempotency-Key": secrets.token_hex(8)},
            )
            assert refused.headers["x-visitor-class"] == "suspected-agent"
        store.settle()

    def login(team: dict[str, Any]) -> str:
        response = httpx.post(
            f"{store.one.url}/api/v1/sessions",
            json={"email": team["email"], "password": team["password"]},
            headers={"user-agent": CHROME_UA},
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def status(team: str) -> str:
        return next(row["status"] for row in store.board() if row["team"] == team)

    team = store.workshop(2)["teams"][0]
    misbehave(login(team), 4)  # the preset warns after 1 strike and suspends after 3
    assert status("team-01") == "warned"  # the default: warned, never suspended

    team = store.workshop(2, suspend_accounts=True)["teams"][0]
    assert status("team-01") == "active"  # a new start reinstates and forgets the strikes
    token = login(team)
    misbehave(token, 1)
    assert status("team-01") == "warned"
    misbehave(token, 2)
    assert status("team-01") == "suspended"

    result = CliRunner().invoke(
        cli,
        ["workshop", "reinstate", "team-01", "--target", store.two.url],
        env={"SANDBOX_ADMIN_TOKEN": ADMIN_TOKEN},
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert "suspended -> active" in result.output
    assert status("team-01") == "active"
    misbehave(token, 3)  # counted afresh: escalation works again after a reinstatement
    assert status("team-01") == "suspended"
    unknown = httpx.post(
        f"{store.one.url}/api/v1/admin/workshop/teams/team-99/reinstate", headers=ADMIN
    )
    assert unknown.status_code == 404
    assert (
        httpx.post(f"{store.one.url}/api/v1/admin/workshop/teams/team-01/reinstate").status_code
        == 401
    )


# --- stock --------------------------------------------------------------------------------------


def test_each_team_gets_its_share_of_the_challenge_product(closed_store: Store) -> None:
    store = closed_store
    # A product with little stock: the workshop raises it to 3 units per team, all of them held.
    (product_id,) = store.sql(
        "SELECT id FROM products WHERE stock BETWEEN 1 AND 5 ORDER BY id LIMIT 1"
    )[0]
    started = store.workshop(2, product_id=product_id)
    store.policy("observe")
    shopper = httpx.post(
        f"{store.one.url}/api/v1/accounts",
        json={
            "email": f"hoarder-{secrets.token_hex(4)}@example.com",
            "password": "correct-horse-9",
            "name": "Hoarder",
        },
        headers={"user-agent": CHROME_UA},
    )
    assert shopper.status_code == 201, shopper.text
    token = httpx.post(
        f"{store.one.url}/api/v1/sessions",
        json={"email": shopper.json()["email"], "password": "correct-horse-9"},
        headers={"user-agent": CHROME_UA},
    ).json()["access_token"]
    hoard = order(store.two, token, product_id, quantity=6)
    assert hoard.status_code == 409, hoard.text
    assert "held for a workshop's teams" in hoard.json()["detail"]
    for n, team in enumerate(started["teams"]):
        placed = order((store.one, store.two)[n], team["access_token"], product_id, quantity=3)
        assert placed.status_code == 201, placed.text
