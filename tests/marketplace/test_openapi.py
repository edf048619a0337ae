"""The API description tells the truth: security schemes where a credential is needed, and the
required `Idempotency-Key` (while the route keeps its 400 problem, not a 422)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

SHOPPER = [{"bearerAuth": []}, {"sessionCookie": []}]
ADMIN = [{"adminToken": []}, {"adminCookie": []}]


@pytest.fixture
def schema(client: TestClient) -> dict[str, Any]:
    answer = client.get("/openapi.json")
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    ]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_security_schemes_are_declared(schema: dict[str, Any]) -> None:
    schemes = schema["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["bearerAuth"]["description"],
    }
    assert "POST /api/v1/sessions" in schemes["bearerAuth"]["description"]
    assert schemes["sessionCookie"]["type"] == "apiKey"
    assert schemes["sessionCookie"]["in"] == "cookie"
    assert schemes["sessionCookie"]["name"] == "nile_session"
    assert schemes["adminToken"]["type"] == "http"
    assert schemes["adminToken"]["scheme"] == "bearer"
    assert "SANDBOX_ADMIN_TOKEN" in schemes["adminToken"]["description"]
    assert schemes["adminCookie"]["in"] == "cookie"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_security_is_applied_where_a_credential_is_needed(schema: dict[str, Any]) -> None:
    paths = schema["paths"]
    for method, path in [
        ("get", "/api/v1/cart"),
        ("post", "/api/v1/cart/items"),
        ("post", "/api/v1/orders"),
        ("get", "/api/v1/orders"),
        ("get", "/api/v1/me"),
    ]:
        assert paths[path][method].get("security") == SHOPPER, (method, path)
    for method, path in [
        ("get", "/api/v1/policy"),
        ("put", "/api/v1/policy"),
        ("get", "/api/v1/decisions"),
        ("post", "/api/v1/partners"),
    ]:
        assert paths[path][method].get("security") == ADMIN, (method, path)
    for method, path in [
        ("get", "/api/v1/products"),
        ("get", "/api/v1/policy/public"),
        ("get", "/problems/{slug}"),
        ("post", "/api/v1/sessions"),
    ]:
        assert "security" not in paths[path][method], (method, path)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_secured_operation_refuses_an_anonymous_caller(
    client: TestClient, schema: dict[str, Any]
) -> None:
    """What the description says is what the routes do: no credential, 401."""
    checked = 0
    for method, path, operation in _operations(schema):
        security = operation.get("security")
        if not security:
            continue
        assert security in (SHOPPER, ADMIN), (method, path, security)
        url = re.sub(r"\{[^}]+\}", "1", path)
        client.cookies.clear()
        answer = client.request(method, url, json={}, headers={"Idempotency-Key": "k-1"})
        assert answer.status_code == 401, (method, path, answer.status_code, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        checked += 1
    assert checked >= 15


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_idempotency_key_is_a_required_header_and_still_answers_400(
    client: TestClient, schema: dict[str, Any]
) -> None:
    operation = schema["paths"]["/api/v1/orders"]["post"]
    keys = [p for p in operation["parameters"] if p["name"].lower() == "idempotency-key"]
    assert len(keys) == 1, keys
    assert keys[0]["in"] == "header"
    assert keys[0]["required"] is True
    assert keys[0]["schema"]["maxLength"] == 255
    assert "400" in operation["responses"]

    created = client.post(
        "/api/v1/accounts",
        json={"email": "idem@example.com", "password": "correct-horse-9", "name": "Idem"},
    )
    assert created.status_code == 201
    token = client.post(
        "/api/v1/sessions", json={"email": "idem@example.com", "password": "correct-horse-9"}
    ).json()["access_token"]
    missing = client.post("/api/v1/orders", headers={"Authorization": f"Bearer {token}"})
    assert missing.status_code == 400
    assert missing.json()["type"] == "/problems/idempotency-key-missing"
