"""Accounts and sessions through the HTTP API, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from marketplace.accounts import service
from marketplace.accounts.models import Account
from marketplace.core.db import Database
from marketplace.core.errors import Unauthorized
from marketplace.core.security import SESSION_COOKIE
from tests.conftest import TEST_NOW, register_and_login


def test_register_returns_the_account_without_secrets(client: TestClient) -> None:
    response = client.post(
        "/api/v1/accounts",
        json={"email": "Ada@Example.com", "password": "long-enough-1", "name": "Ada"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "ada@example.com"
    assert body["status"] == "active"
    assert "password" not in response.text
    assert "hash" not in response.text


def test_duplicate_email_is_refused_with_a_hint(client: TestClient) -> None:
    register_and_login(client, "dup@example.com")
    again = client.post(
        "/api/v1/accounts",
        json={"email": "DUP@example.com", "password": "another-pass-1", "name": "Dup"},
    )
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    assert "log in" in again.json()["detail"]


def test_invalid_registration_names_the_field(client: TestClient) -> None:
    response = client.post(
        "/api/v1/accounts", json={"email": "not-an-email", "password": "long-enough-1", "name": "X"}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["errors"][0]["field"] == "email"
    assert "email" in body["detail"]


def test_unknown_fields_are_refused(client: TestClient) -> None:
    response = client.post(
        "/api/v1/accounts",
        json={"email": "x@example.com", "password": "long-enough-1", "name": "X", "admin": True},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "admin"


def test_login_sets_an_httponly_cookie_and_returns_a_bearer_token(client: TestClient) -> None:
    client.post(
        "/api/v1/accounts",
        json={"email": "bob@example.com", "password": "long-enough-1", "name": "Bob"},
    )
    login = client.post(
        "/api/v1/sessions", json={"email": "bob@example.com", "password": "long-enough-1"}
    )
    assert login.status_code == 200
    assert login.json()["token_type"] == "bearer"
    cookie = login.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert client.get("/api/v1/me").json()["email"] == "bob@example.com"

    token = login.json()["access_token"]
    client.cookies.clear()
    me = client.get("/api/v1/me", headers={"authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["email"] == "bob@example.com"


def test_wrong_password_and_unknown_email_look_the_same(client: TestClient) -> None:
    register_and_login(client, "carol@example.com")
    wrong = client.post(
        "/api/v1/sessions", json={"email": "carol@example.com", "password": "nope-nope"}
    )
    unknown = client.post(
        "/api/v1/sessions", json={"email": "nobody@example.com", "password": "nope-nope"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]


def test_login_starts_a_new_session_instead_of_adopting_the_old_cookie(
    client: TestClient,
) -> None:
    client.get("/api/v1/me")  # an anonymous visit hands out a session cookie
    before = client.cookies.get(SESSION_COOKIE)
    assert before
    register_and_login(client, "dave@example.com")
    after = client.cookies.get(SESSION_COOKIE)
    assert after
    assert after != before


def test_logout_ends_the_session(client: TestClient) -> None:
    token = register_and_login(client, "erin@example.com")
    assert client.delete("/api/v1/sessions/current").status_code == 204
    assert client.get("/api/v1/me").status_code == 401
    revoked = client.get("/api/v1/me", headers={"authorization": f"Bearer {token}"})
    assert revoked.status_code == 401


def test_malformed_authorization_header_is_explained(client: TestClient) -> None:
    response = client.get("/api/v1/me", headers={"authorization": "Basic abc"})
    assert response.status_code == 401
    assert "Bearer" in response.json()["detail"]


def test_unknown_path_is_a_problem_json_404(client: TestClient) -> None:
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


def test_a_wrong_password_is_refused_without_waiting_for_writers(
    client: TestClient, database: Database
) -> None:
    if database.dialect != "sqlite":
        pytest.skip("the write lock is SQLite's")
    register_and_login(client, "busy@example.com")
    # Another transaction holds SQLite's write lock: a login that checked the password inside
    # its own write transaction would wait for it (the busy timeout is 30 s), then fail.
    with database.session() as holder:
        holder.execute(update(Account).values(name=Account.name))
        started = time.monotonic()
        wrong = client.post(
            "/api/v1/sessions", json={"email": "busy@example.com", "password": "not-it-at-all"}
        )
        took = time.monotonic() - started
    assert wrong.status_code == 401
    assert wrong.json()["type"].endswith("/bad-credentials")
    assert took < 5, f"the login waited {took:.1f} s with the write lock held elsewhere"
    right = client.post(
        "/api/v1/sessions", json={"email": "busy@example.com", "password": "correct-horse-9"}
    )
    assert right.status_code == 200


def test_a_password_checked_before_a_re_key_opens_no_session(database: Database) -> None:
    # A login checks the password before its transaction; a workshop re-key (a new password)
    # committed in between must win, as it would have inside one transaction.
    with database.session() as session:
        account = service.register(
            session,
            email="rekeyed@example.com",
            password_hash=service.hash_password("old-password-1"),
            name="Team",
            now=TEST_NOW,
        )
        session.flush()
        account_id = account.id
    with database.reader() as connection:
        found = service.password_of(connection, "Rekeyed@example.com")
    verified = service.verify_password(found, "old-password-1")
    assert verified.account_id == account_id
    with database.session() as session:
        rekeyed = session.get(Account, account_id)
        assert rekeyed is not None
        rekeyed.password_hash = service.hash_password("new-password-2")
    with pytest.raises(Unauthorized), database.session() as session:
        service.log_in_verified(session, verified)


def test_a_bad_bearer_token_is_answered_before_the_password(client: TestClient) -> None:
    register_and_login(client, "bearer@example.com")
    answer = client.post(
        "/api/v1/sessions",
        json={"email": "bearer@example.com", "password": "not-it-at-all"},
        headers={"authorization": "Bearer no-such-token"},
    )
    assert answer.status_code == 401
    assert answer.json()["type"].endswith("/bad-token")
