"""The ACP door over HTTP: the session lifecycle, idempotency, cancel, payment tokens, errors."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from fastapi.testclient import TestClient

from marketplace.core.db import Database
from tests.conftest import ADMIN_TOKEN
from tests.marketplace._shop import product_with_stock, stock_of

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
VERSION = {"API-Version": "2025-09-29"}
ADDRESS = {
    "name": "Ada Lovelace",
    "line_one": "12 Market Street",
    "city": "San Francisco",
    "state": "CA",
    "country": "US",
    "postal_code": "94103",
}
BUYER = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}
_keys = itertools.count()


def post(
    client: TestClient, path: str, body: Any = None, *, key: str | None = "auto", **headers: str
) -> Any:
    sent = {**VERSION, **headers}
    if key is not None:
        sent["Idempotency-Key"] = f"key-{next(_keys)}" if key == "auto" else key
    return client.post(path, json=body, headers=sent)


def create(client: TestClient, product: int, quantity: int = 1, **extra: Any) -> dict[str, Any]:
    answer = post(
        client,
        "/checkout_sessions",
        {"items": [{"id": str(product), "quantity": quantity}], **extra},
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_full_lifecycle_ends_in_an_order_of_channel_acp(
    client: TestClient, database: Database
) -> None:
    product = product_with_stock(database, at_least=3)
    before = stock_of(database, product)
    session = create(client, product, 2, buyer=BUYER)
    assert session["status"] == "not_ready_for_payment"
    assert session["currency"] == "usd"
    [line] = session["line_items"]
    assert line["item"] == {"id": str(product), "quantity": 2}
    assert line["total"] == line["base_amount"] > 0
    assert session["messages"][0]["param"] == "$.fulfillment_address"
    assert session["payment_provider"] == {
        "provider": "stripe",
        "supported_payment_methods": ["card"],
    }

    sid = session["id"]
    updated = post(client, f"/checkout_sessions/{sid}", {"fulfillment_address": ADDRESS})
    assert updated.status_code == 200, updated.text
    ready = updated.json()
    assert ready["status"] == "ready_for_payment"
    assert ready["fulfillment_address"]["city"] == "San Francisco"
    options = ready["fulfillment_options"]
    assert options
    assert ready["fulfillment_option_id"] == options[0]["id"]
    totals = {t["type"]: t["amount"] for t in ready["totals"]}
    assert totals["total"] == totals["subtotal"] + totals["fulfillment"]
    assert ready["messages"] == []
    assert client.get(f"/checkout_sessions/{sid}", headers=VERSION).json() == ready

    done = post(
        client,
        f"/checkout_sessions/{sid}/complete",
        {"payment_data": {"token": "spt_test_4242", "provider": "stripe"}},
    )
    assert done.status_code == 200, done.text
    completed = done.json()
    assert completed["status"] == "completed"
    assert completed["order"]["checkout_session_id"] == sid
    assert completed["order"]["id"]
    assert completed["order"]["permalink_url"].endswith(f"/checkout_sessions/{sid}")
    assert stock_of(database, product) == before - 2
    stats = client.get("/api/v1/admin/stats", headers=ADMIN).json()
    assert stats["orders"]["by_channel"].get("acp") == 1

    again = post(
        client, f"/checkout_sessions/{sid}/complete", {"payment_data": {"token": "spt_test_1"}}
    )
    assert again.status_code == 409
    assert again.json()["code"] == "checkout_closed"
    assert stock_of(database, product) == before - 2
    cancel = post(client, f"/checkout_sessions/{sid}/cancel")
    assert cancel.status_code == 405
    assert cancel.json()["type"] == "invalid_request"


def test_idempotency_same_key_same_answer_other_body_an_error(
    client: TestClient, database: Database
) -> None:
    product = product_with_stock(database)
    body = {"items": [{"id": str(product), "quantity": 1}], "fulfillment_address": ADDRESS}
    first = post(client, "/checkout_sessions", body, key="same-key")
    second = post(client, "/checkout_sessions", body, key="same-key")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert first.headers["idempotency-key"] == "same-key"
    # Key order does not matter; the body's content does.
    reordered = {"fulfillment_address": ADDRESS, "items": body["items"]}
    assert post(client, "/checkout_sessions", reordered, key="same-key").json() == first.json()
    other = post(
        client,
        "/checkout_sessions",
        {"items": [{"id": str(product), "quantity": 2}]},
        key="same-key",
    )
    assert other.status_code == 422
    assert other.json() == {
        "type": "invalid_request",
        "code": "idempotency_conflict",
        "message": "Idempotency-Key has already been used with a different request body.",
        "param": "Idempotency-Key",
    }
    # The same key on another endpoint is another request.
    sid = first.json()["id"]
    cancel = post(client, f"/checkout_sessions/{sid}/cancel", key="same-key")
    assert cancel.status_code == 200
    assert cancel.json()["status"] == "canceled"
    missing = post(client, "/checkout_sessions", body, key=None)
    assert missing.status_code == 400
    assert missing.json()["code"] == "idempotency_key_required"
    # A completion retried with its key buys once.
    before = stock_of(database, product)
    ready = create(client, product, fulfillment_address=ADDRESS)
    pay = {"payment_data": {"token": "spt_test_visa"}}
    path = f"/checkout_sessions/{ready['id']}/complete"
    one = post(client, path, pay, key="pay-once")
    two = post(client, path, pay, key="pay-once")
    assert one.status_code == two.status_code == 200
    assert one.json() == two.json()
    assert stock_of(database, product) == before - 1


def test_cancel_closes_the_session(client: TestClient, database: Database) -> None:
    product = product_with_stock(database)
    session = create(client, product, fulfillment_address=ADDRESS)
    sid = session["id"]
    canceled = post(client, f"/checkout_sessions/{sid}/cancel")
    assert canceled.status_code == 200
    assert canceled.json()["status"] == "canceled"
    assert client.get(f"/checkout_sessions/{sid}", headers=VERSION).json()["status"] == "canceled"
    change = post(
        client, f"/checkout_sessions/{sid}", {"items": [{"id": str(product), "quantity": 1}]}
    )
    assert change.status_code == 409
    assert change.json()["code"] == "checkout_closed"
    pay = post(
        client, f"/checkout_sessions/{sid}/complete", {"payment_data": {"token": "spt_test_1"}}
    )
    assert pay.status_code == 409
    assert post(client, f"/checkout_sessions/{sid}/cancel").status_code == 405


def test_payment_takes_only_simulated_test_tokens(client: TestClient, database: Database) -> None:
    product = product_with_stock(database)
    before = stock_of(database, product)
    sid = create(client, product, fulfillment_address=ADDRESS)["id"]
    path = f"/checkout_sessions/{sid}/complete"
    real = post(client, path, {"payment_data": {"token": "spt_live_abc"}})
    assert real.status_code == 400
    assert real.json()["param"] == "$.payment_data.token"
    assert "spt_test_" in real.json()["message"]
    declined = post(client, path, {"payment_data": {"token": "spt_test_decline_1"}})
    assert declined.status_code == 402
    assert declined.json()["code"] == "payment_declined"
    assert client.get(f"/checkout_sessions/{sid}", headers=VERSION).json()["status"] == (
        "ready_for_payment"
    )
    assert stock_of(database, product) == before
    # Not ready yet: no address, so no shipping chosen.
    bare = create(client, product)
    early = post(
        client,
        f"/checkout_sessions/{bare['id']}/complete",
        {"payment_data": {"token": "spt_test_1"}},
    )
    assert early.status_code == 400
    assert early.json()["type"] == "invalid_request"


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"items": []}, "invalid", "$.items"),
        ({}, "missing", "$.items"),
        ({"items": [{"id": "1", "quantity": 0}]}, "invalid", "$.items[0].quantity"),
        ({"items": [{"id": "1", "quantity": 1}], "coupon": "x"}, "invalid", "$.coupon"),
        ({"items": [{"id": "no-such-item", "quantity": 1}]}, "invalid", "$.items"),
    ],
)
def test_bad_requests_get_acp_error_objects(
    client: TestClient, body: dict[str, Any], code: str, param: str
) -> None:
    answer = post(client, "/checkout_sessions", body)
    assert answer.status_code == 400, answer.text
    error = answer.json()
    assert error["type"] == "invalid_request"
    assert error["code"] == code
    assert error["param"] == param


def test_api_version_is_required_and_checked(client: TestClient) -> None:
    missing = client.get("/checkout_sessions/chk_x")
    assert missing.status_code == 400
    assert missing.json()["code"] == "missing_api_version"
    assert missing.json()["supported_versions"] == ["2025-09-29"]
    other = client.get("/checkout_sessions/chk_x", headers={"API-Version": "2020-01-01"})
    assert other.json()["code"] == "unsupported_api_version"
    unknown = client.get("/checkout_sessions/chk_x", headers=VERSION)
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "not_found"


def test_an_acp_api_key_is_not_mistaken_for_a_shopper_login(
    client: TestClient, database: Database
) -> None:
    """ACP clients send `Authorization: Bearer <api key>`; the store identifies agents by their
    signature, so the header is neither required nor read as a shopper's session."""
    product = product_with_stock(database)
    answer = post(
        client,
        "/checkout_sessions",
        {"items": [{"id": str(product), "quantity": 1}]},
        Authorization="Bearer api_key_123",
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["status"] == "not_ready_for_payment"


def test_a_session_opened_through_another_door_is_not_found_here(
    client: TestClient, database: Database
) -> None:
    product = product_with_stock(database)
    ucp = client.post(
        "/ucp/v1/checkout-sessions",
        json={"currency": "USD", "line_items": [{"item": {"id": str(product)}, "quantity": 1}]},
        headers={"Idempotency-Key": "ucp-1"},
    )
    assert ucp.status_code == 201, ucp.text
    sid = ucp.json()["id"]
    assert client.get(f"/checkout_sessions/{sid}", headers=VERSION).status_code == 404
    cancel = post(client, f"/checkout_sessions/{sid}/cancel")
    assert cancel.status_code == 404
    assert cancel.json()["code"] == "not_found"
    assert client.get(f"/ucp/v1/checkout-sessions/{sid}").json()["status"] == "incomplete"
