"""Escalation: an account whose traffic is flagged as agent-driven is warned, then suspended."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from marketplace.accounts import service as accounts
from marketplace.accounts.gate_hooks import account_resolver, owner_resolver, status_setter
from marketplace.accounts.models import Account
from marketplace.app import create_app
from marketplace.core.appstate import state_of
from marketplace.core.clock import FrozenClock
from marketplace.core.db import Database
from marketplace.core.security import SESSION_COOKIE, CookieSigner, client_fingerprint
from marketplace.core.settings import Settings
from marketplace.gate.facts import RequestFacts
from marketplace.gate.identity.escalation import Escalator, reset_strikes
from tests.marketplace.gate import _identity_db

migrated_url = _identity_db.migrated_url
gate_database = _identity_db.gate_database

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


@dataclass(frozen=True)
class Thresholds:
    warn_after: int = 2
    suspend_after: int = 4


CLIENT_IP = "10.0.0.2"


def make_account(
    database: Database,
    email: str = "shopper@example.com",
    *,
    client: str | None = client_fingerprint(CLIENT_IP, CHROME),
) -> tuple[int, str]:
    """An account logged in from `client` (the one `facts_for` sends from, unless told)."""
    with database.session() as session:
        account = accounts.register(
            session,
            email=email,
            password_hash=accounts.hash_password("correct-horse-9"),
            name="Shopper",
            now=NOW,
        )
        session.flush()
        issued = accounts.start_session(session, account, now=NOW, max_age_s=3600, client=client)
        return account.id, issued.token


def facts_for(
    route_class: str,
    *,
    bearer: str | None = None,
    cookie: str | None = None,
    user_agent: str = CHROME,
    client_ip: str = CLIENT_IP,
) -> RequestFacts:
    headers = [("user-agent", user_agent)]
    if bearer:
        headers.append(("authorization", f"Bearer {bearer}"))
    if cookie:
        headers.append(("cookie", f"theme=dark; {SESSION_COOKIE}={cookie}"))
    return RequestFacts(
        method="POST",
        path="/api/v1/orders",
        raw_path="/api/v1/orders",
        query="",
        authority="shop.test",
        scheme="http",
        headers=tuple(headers),
        client_ip=client_ip,
        session_id=cookie,
        route_class=route_class,
        is_asset=False,
    )


@pytest.fixture
def escalator(gate_database: Database) -> Escalator:
    signer = CookieSigner("test-secret-key", 3600)
    return Escalator(
        gate_database,
        resolve_account=account_resolver(gate_database, signer, FrozenClock(NOW)),
        resolve_owner=owner_resolver(gate_database, signer, FrozenClock(NOW)),
        set_account_status=status_setter(gate_database),
    )


def status_of(database: Database, account_id: int) -> tuple[str, str | None]:
    with database.session() as session:
        account = session.get(Account, account_id)
        assert account is not None
        return account.status, account.status_reason


def strike(escalator: Escalator, f: RequestFacts, visitor: str = "suspected-agent") -> bool:
    return escalator.record(
        f,
        visitor_class=visitor,
        reason="API checkout with a browser user agent and no product viewed before",
        thresholds=Thresholds(),
        now=NOW,
    )


def test_warned_then_suspended(escalator: Escalator, gate_database: Database) -> None:
    account_id, token = make_account(gate_database)
    f = facts_for("checkout", bearer=token)
    assert strike(escalator, f)
    escalator.process()
    assert status_of(gate_database, account_id)[0] == "active"
    strike(escalator, f)
    steps = escalator.process()
    assert [(s.status, s.strikes) for s in steps] == [("warned", 2)]
    status, reason = status_of(gate_database, account_id)
    assert status == "warned"
    assert reason is not None
    assert "posing as a browser" in reason
    strike(escalator, f)
    strike(escalator, f)
    steps = escalator.process()
    assert [(s.status, s.strikes) for s in steps] == [("suspended", 4)]
    status, reason = status_of(gate_database, account_id)
    assert status == "suspended"
    assert "API checkout" in (reason or "")
    history = escalator.history(account_id)
    assert [h["status"] for h in history] == ["warned", "suspended"]
    strike(escalator, f)
    assert escalator.process() == []  # never set back, never repeated
    assert status_of(gate_database, account_id)[0] == "suspended"


def test_the_session_cookie_identifies_the_account(
    escalator: Escalator, gate_database: Database
) -> None:
    account_id, token = make_account(gate_database, "cookie@example.com")
    cookie = CookieSigner("test-secret-key", 3600).dumps(token)
    for _ in range(2):
        strike(escalator, facts_for("cart", cookie=cookie))
    escalator.process()
    assert status_of(gate_database, account_id)[0] == "warned"


def test_forged_cookie_or_unknown_token_strikes_nobody(
    escalator: Escalator, gate_database: Database
) -> None:
    account_id, token = make_account(gate_database, "forged@example.com")
    for _ in range(5):
        strike(escalator, facts_for("checkout", cookie=token))  # unsigned: not a real cookie
        strike(escalator, facts_for("checkout", bearer="not-a-token"))
    assert escalator.process() == []
    assert status_of(gate_database, account_id)[0] == "active"


def test_a_held_token_from_another_client_strikes_nobody(
    escalator: Escalator, gate_database: Database
) -> None:
    """A stolen token proves only that its sender holds it: the account is left alone."""
    account_id, token = make_account(gate_database, "stolen@example.com")
    for _ in range(5):
        strike(escalator, facts_for("cart", bearer=token, user_agent="curl/8.5.0"))
        strike(escalator, facts_for("cart", bearer=token, client_ip="10.0.0.66"))
    assert escalator.process() == []
    assert status_of(gate_database, account_id)[0] == "active"


def test_an_issued_token_proves_no_owner(escalator: Escalator, gate_database: Database) -> None:
    """A token handed out (a workshop's handout) was not a login: nobody proved the password."""
    account_id, token = make_account(gate_database, "issued@example.com", client=None)
    for _ in range(5):
        strike(escalator, facts_for("checkout", bearer=token))
    assert escalator.process() == []
    assert status_of(gate_database, account_id)[0] == "active"


def test_a_guard_keeps_an_account_from_suspension_and_a_reset_reinstates(
    gate_database: Database,
) -> None:
    signer = CookieSigner("test-secret-key", 3600)
    guarded = Escalator(
        gate_database,
        resolve_account=account_resolver(gate_database, signer, FrozenClock(NOW)),
        resolve_owner=owner_resolver(gate_database, signer, FrozenClock(NOW)),
        set_account_status=status_setter(gate_database),
        may_suspend=lambda account_id: False,
    )
    account_id, token = make_account(gate_database, "guarded@example.com")
    for _ in range(6):
        strike(guarded, facts_for("checkout", bearer=token))
    assert [s.status for s in guarded.process()] == ["warned"]
    assert status_of(gate_database, account_id)[0] == "warned"
    with gate_database.session() as session:
        assert reset_strikes(session, account_id, reason="organiser", now=NOW) == 6
    assert [h["status"] for h in guarded.history(account_id)] == ["warned", "reinstated"]


def test_browsing_and_humans_are_not_strikes(escalator: Escalator, gate_database: Database) -> None:
    _, token = make_account(gate_database, "browse@example.com")
    assert not strike(escalator, facts_for("product", bearer=token))
    assert not strike(escalator, facts_for("catalog", bearer=token))
    assert not strike(escalator, facts_for("checkout", bearer=token), visitor="human")
    assert not strike(escalator, facts_for("checkout"))  # anonymous: no account to warn


# --- Through the gate ------------------------------------------------------------------------


@pytest.fixture
def app(migrated_url: str, tmp_path: Path) -> FastAPI:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=migrated_url,
        admin_token="test-admin-token",
        secret_key="test-secret-key",
        # Observe mode refuses nothing, so it escalates nothing either; `open` escalates.
        policy="open",
    )
    return create_app(settings, database=Database(migrated_url), clock=FrozenClock(NOW))


@pytest.fixture
def api(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, headers={"user-agent": CHROME}) as client:
        yield client


def test_disguised_api_checkout_gets_the_account_warned_then_suspended(
    api: TestClient, app: FastAPI
) -> None:
    created = api.post(
        "/api/v1/accounts",
        json={"email": "agent@example.com", "password": "correct-horse-9", "name": "Agent"},
    )
    assert created.status_code == 201, created.text
    login = {"email": "agent@example.com", "password": "correct-horse-9"}
    token = api.post("/api/v1/sessions", json=login).json()["access_token"]
    api.cookies.clear()
    auth = {"Authorization": f"Bearer {token}"}
    identity = state_of(app).identity
    account_id = created.json()["id"]
    statuses = []
    for attempt in range(3):
        # An order through the API, from a "Chrome" that never viewed a product.
        response = api.post("/api/v1/orders", headers={**auth, "Idempotency-Key": f"k{attempt}"})
        assert response.headers.get("x-visitor-class") == "suspected-agent", response.headers
        identity.state.flush()  # the background tick applies strikes every 0.2 s
        statuses.append(status_of(state_of(app).db, account_id)[0])
    # the preset's escalation: warn after 1 strike, suspend after 3
    assert statuses == ["warned", "warned", "suspended"]
    assert "posing as a browser" in (status_of(state_of(app).db, account_id)[1] or "")
    # The shopper, logging in from a browser session of their own, sees the suspension.
    with TestClient(app, headers={"user-agent": CHROME}) as person:
        person.post("/api/v1/sessions", json=login)
        me = person.get("/api/v1/me")
        assert me.status_code == 200, me.text
        assert me.json()["status"] == "suspended"
        assert "posing as a browser" in me.json()["status_reason"]
