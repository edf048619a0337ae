"""The UCP REST binding through HTTP: profile, checkout lifecycle, idempotency, orders, webhooks."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy import select

from marketplace.catalog.models import Product
from marketplace.core.clock import FrozenClock
from marketplace.core.db import Database
from marketplace.core.settings import Settings
from marketplace.orders.models import Order
from marketplace.protocols.checkout.models import ProtocolCheckout
from sandbox.liveserver import LiveServer
from tests.marketplace.protocols._ucp import (
    create,
    create_body,
    headers,
    load_shop,
    payment,
    total,
)

SECRET = "test-simulation-secret"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"ucp_simulation_secret": SECRET})


@pytest.fixture(autouse=True)
def shop(database: Database, tmp_path: Path) -> None:
    load_shop(database, tmp_path / "shop")


def stock(database: Database, sku: str) -> int:
    with database.session() as session:
        return int(session.scalar(select(Product.stock).where(Product.sku == sku)) or 0)


def test_the_profile_names_both_bindings_and_its_documents_answer(client: TestClient) -> None:
    profile = client.get("/.well-known/ucp").json()
    assert client.get("/ucp/v1/.well-known/ucp").json() == profile
    shopping = profile["ucp"]["services"]["dev.ucp.shopping"]
    assert profile["ucp"]["version"] == shopping["version"] == "2026-01-11"
    assert shopping["rest"]["endpoint"] == "http://testserver/ucp/v1"
    assert shopping["mcp"]["endpoint"] == "http://testserver/mcp"
    names = {c["name"] for c in profile["ucp"]["capabilities"]}
    assert {"dev.ucp.shopping.checkout", "dev.ucp.shopping.order"} <= names
    assert {h["id"] for h in profile["payment"]["handlers"]} >= {"mock_payment_handler"}
    assert profile["signing_keys"][0]["kty"] == "OKP"
    assert profile["signing_keys"][0]["kid"]
    for capability in profile["ucp"]["capabilities"]:
        spec = client.get(capability["spec"].removeprefix("http://testserver"))
        schema = client.get(capability["schema"].removeprefix("http://testserver"))
        assert spec.status_code == 200
        assert "<html" in spec.text
        assert schema.status_code == 200
        assert schema.json()["title"]


def test_a_checkout_from_create_to_order_takes_stock_and_records_the_channel(
    client: TestClient, database: Database
) -> None:
    before = stock(database, "rose")
    created = create(client, create_body(quantity=2))
    assert created.status_code == 201, created.text
    checkout = created.json()
    assert checkout["status"] == "ready_for_complete"
    assert checkout["line_items"][0]["item"] == {
        "id": "rose",
        "title": "Red Rose Bouquet",
        "price": 3500,
        "image_url": "https://example.com/rose.jpg",
    }
    assert (total(checkout, "subtotal"), total(checkout, "fulfillment")) == (7000, 500)

    updated = client.put(
        f"/ucp/v1/checkout-sessions/{checkout['id']}",
        json={"discounts": {"codes": ["10OFF", "NOPE"]}},
        headers=headers(),
    ).json()
    assert [a["code"] for a in updated["discounts"]["applied"]] == ["10OFF"]
    assert total(updated) == 7000 - 700 + 500

    done = client.post(
        f"/ucp/v1/checkout-sessions/{checkout['id']}/complete", json=payment(), headers=headers()
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"
    order_id = done.json()["order"]["id"]
    assert stock(database, "rose") == before - 2

    order = client.get(f"/ucp/v1/orders/{order_id}").json()
    assert order["checkout_id"] == checkout["id"]
    assert order["line_items"][0]["quantity"] == {"total": 2, "fulfilled": 0}
    assert order["fulfillment"]["expectations"][0]["description"] == "Standard Shipping"
    assert order["fulfillment"]["expectations"][0]["destination"]["street_address"] == "9 Elm St"
    with database.session() as session:
        placed = session.scalars(select(Order).where(Order.channel == "ucp")).one()
        assert float(placed.total) == pytest.approx(68.0)


def test_closed_sessions_refuse_changes_and_completion_needs_fulfillment(
    client: TestClient,
) -> None:
    bare = create(client, create_body(ship=False)).json()
    assert bare["status"] == "incomplete"
    assert bare["messages"][0]["code"] == "fulfillment_required"
    early = client.post(
        f"/ucp/v1/checkout-sessions/{bare['id']}/complete", json=payment(), headers=headers()
    )
    assert early.status_code == 400
    assert "Fulfillment address and option must be selected" in early.json()["detail"]

    canceled = client.post(f"/ucp/v1/checkout-sessions/{bare['id']}/cancel", headers=headers())
    assert canceled.json()["status"] == "canceled"
    again = client.post(f"/ucp/v1/checkout-sessions/{bare['id']}/cancel", headers=headers())
    assert again.status_code == 409
    assert again.json()["messages"][0]["code"] == "checkout_not_modifiable"
    change = client.put(
        f"/ucp/v1/checkout-sessions/{bare['id']}",
        json={"line_items": [{"item": {"id": "rose"}, "quantity": 3}]},
        headers=headers(),
    )
    assert change.status_code == 409


@pytest.mark.parametrize(
    ("item", "quantity", "says"),
    [
        ("sold_out", 1, "Insufficient stock"),
        ("tulip", 21, "Insufficient stock"),
        ("nope", 1, "not found"),
    ],
)
def test_unknown_items_and_missing_stock_are_400_with_a_reason(
    client: TestClient, item: str, quantity: int, says: str
) -> None:
    response = create(client, create_body(item, quantity))
    assert response.status_code == 400
    assert says in response.json()["detail"]
    assert response.json()["messages"][0]["type"] == "error"


def test_a_declined_payment_is_402_and_places_nothing(
    client: TestClient, database: Database
) -> None:
    checkout = create(client).json()
    declined = client.post(
        f"/ucp/v1/checkout-sessions/{checkout['id']}/complete",
        json=payment("fail_token"),
        headers=headers(),
    )
    assert declined.status_code == 402
    assert client.get(f"/ucp/v1/checkout-sessions/{checkout['id']}").json()["status"] == (
        "ready_for_complete"
    )
    with database.session() as session:
        assert session.scalars(select(Order).where(Order.channel == "ucp")).all() == []


def test_idempotency_replays_the_first_answer_and_refuses_another_body(
    client: TestClient, database: Database
) -> None:
    key = headers()
    first = client.post("/ucp/v1/checkout-sessions", json=create_body(), headers=key)
    replay = client.post("/ucp/v1/checkout-sessions", json=create_body(), headers=key)
    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    other = client.post("/ucp/v1/checkout-sessions", json=create_body(quantity=2), headers=key)
    assert other.status_code == 409
    with database.session() as session:
        assert len(session.scalars(select(ProtocolCheckout)).all()) == 1

    before = stock(database, "rose")
    path = f"/ucp/v1/checkout-sessions/{first.json()['id']}/complete"
    pay = headers()
    done = client.post(path, json=payment(), headers=pay)
    again = client.post(path, json=payment(), headers=pay)
    assert done.status_code == again.status_code == 200
    assert again.json() == done.json()
    assert stock(database, "rose") == before - 1
    assert client.post(path, json=payment(), headers=headers()).status_code == 409


def test_a_newer_protocol_version_is_refused(client: TestClient) -> None:
    newer = {**headers(), "UCP-Agent": 'profile="x"; version="2099-01-01"'}
    response = client.post("/ucp/v1/checkout-sessions", json=create_body(), headers=newer)
    assert response.status_code == 400
    assert response.json()["type"] == "/problems/protocol-version-unsupported"


def test_known_buyers_get_their_saved_addresses_and_new_ones_are_kept(client: TestClient) -> None:
    body = create_body(ship=False)
    body["buyer"] = {"email": "ann@example.com", "first_name": "Ann"}
    checkout = create(client, body).json()
    shipped = client.put(
        f"/ucp/v1/checkout-sessions/{checkout['id']}",
        json={"fulfillment": {"methods": [{"type": "shipping"}]}},
        headers=headers(),
    ).json()
    assert [d["id"] for d in shipped["fulfillment"]["methods"][0]["destinations"]] == ["a1"]

    body["buyer"] = {"email": "new@example.com"}
    other = create(client, body).json()
    address = {"street_address": "5 Oak Rd", "postal_code": "M5V", "address_country": "CA"}
    sent = client.put(
        f"/ucp/v1/checkout-sessions/{other['id']}",
        json={"fulfillment": {"methods": [{"type": "shipping", "destinations": [address]}]}},
        headers=headers(),
    ).json()
    new_id = sent["fulfillment"]["methods"][0]["destinations"][0]["id"]
    chosen = client.put(
        f"/ucp/v1/checkout-sessions/{other['id']}",
        json={
            "fulfillment": {"methods": [{"type": "shipping", "selected_destination_id": new_id}]}
        },
        headers=headers(),
    ).json()
    options = [o["id"] for o in chosen["fulfillment"]["methods"][0]["groups"][0]["options"]]
    assert options == ["std", "exp-intl"]  # Canada: no US express

    third = create(client, body).json()
    again = client.put(
        f"/ucp/v1/checkout-sessions/{third['id']}",
        json={"fulfillment": {"methods": [{"type": "shipping"}]}},
        headers=headers(),
    ).json()
    assert [d["id"] for d in again["fulfillment"]["methods"][0]["destinations"]] == [new_id]


def test_order_updates_keep_events_and_refuse_invalid_adjustments(client: TestClient) -> None:
    checkout = create(client).json()
    done = client.post(
        f"/ucp/v1/checkout-sessions/{checkout['id']}/complete", json=payment(), headers=headers()
    ).json()
    url = f"/ucp/v1/orders/{done['order']['id']}"
    order = client.get(url).json()
    adjustment = {
        "id": "adj1",
        "type": "refund",
        "occurred_at": "2026-06-01T12:00:00Z",
        "status": "pending",
        "amount": 500,
    }
    ok = client.put(url, json={**order, "adjustments": [adjustment]})
    assert ok.status_code == 200
    assert ok.json()["adjustments"][0]["amount"] == 500
    bad = client.put(url, json={**order, "adjustments": [{**adjustment, "status": "maybe"}]})
    assert bad.status_code == 422
    assert client.put(url, json={**order, "adjustments": adjustment}).status_code == 422
    assert client.get("/ucp/v1/orders/ord_unknown").status_code == 404


def test_simulated_shipping_needs_the_secret(client: TestClient) -> None:
    checkout = create(client).json()
    done = client.post(
        f"/ucp/v1/checkout-sessions/{checkout['id']}/complete", json=payment(), headers=headers()
    ).json()
    path = f"/ucp/v1/testing/simulate-shipping/{done['order']['id']}"
    assert client.post(path).status_code == 403
    assert client.post(path, headers={"Simulation-Secret": "wrong"}).status_code == 403
    shipped = client.post(path, headers={"Simulation-Secret": SECRET})
    assert shipped.status_code == 200
    assert shipped.json()["fulfillment"]["events"][0]["type"] == "shipped"
    assert shipped.json()["line_items"][0]["status"] == "fulfilled"


def _agent(events: list[dict[str, Any]]) -> FastAPI:
    """An agent's side: its profile (naming its order webhook) and the webhook."""
    agent = FastAPI()

    @agent.get("/profile.json")
    def profile(request: Request) -> dict[str, Any]:
        hook = f"{str(request.base_url).rstrip('/')}/webhooks/order"
        capability = {"name": "dev.ucp.shopping.order", "config": {"webhook_url": hook}}
        return {"ucp": {"version": "2026-01-11", "capabilities": [capability]}}

    @agent.post("/webhooks/order")
    async def webhook(request: Request) -> dict[str, str]:
        body = await request.body()
        events.append(
            {
                "signature": request.headers.get("request-signature"),
                "body": body,
                **json.loads(body),
            }
        )
        return {"status": "ok"}

    return agent


def test_order_events_reach_the_webhook_of_the_agents_profile(client: TestClient) -> None:
    events: list[dict[str, Any]] = []
    with LiveServer(_agent(events)) as agent:
        profile = f"{agent.url}/profile.json"
        created = client.post(
            "/ucp/v1/checkout-sessions", json=create_body(), headers=headers(profile=profile)
        ).json()
        done = client.post(
            f"/ucp/v1/checkout-sessions/{created['id']}/complete",
            json=payment(),
            headers=headers(profile=profile),
        ).json()
        order_id = done["order"]["id"]
        client.post(
            f"/ucp/v1/testing/simulate-shipping/{order_id}", headers={"Simulation-Secret": SECRET}
        )
        deadline = time.monotonic() + 10
        while len(events) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert [e["event_type"] for e in events] == ["order_placed", "order_shipped"]
    assert {e["order"]["id"] for e in events} == {order_id}
    assert events[0]["checkout_id"] == created["id"]
    (key,) = client.get("/.well-known/ucp").json()["signing_keys"]
    public = Ed25519PublicKey.from_public_bytes(_unb64(key["x"]))
    for event in events:
        protected, empty, signature = event["signature"].split(".")
        assert empty == ""
        assert json.loads(_unb64(protected)) == {
            "alg": "EdDSA",
            "kid": key["kid"],
            "b64": False,
            "crit": ["b64"],
        }
        public.verify(_unb64(signature), protected.encode() + b"." + event["body"])
    with pytest.raises(InvalidSignature):
        public.verify(_unb64(signature), protected.encode() + b"." + events[0]["body"] + b" ")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TestWithoutSecret:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"ucp_simulation_secret": None})

    def test_the_simulation_endpoints_do_not_exist(self, client: TestClient) -> None:
        checkout = create(client).json()
        done = client.post(
            f"/ucp/v1/checkout-sessions/{checkout['id']}/complete",
            json=payment(),
            headers=headers(),
        ).json()
        path = f"/ucp/v1/testing/simulate-shipping/{done['order']['id']}"
        assert client.post(path, headers={"Simulation-Secret": ""}).status_code == 404
        assert client.post(path, headers={"Simulation-Secret": SECRET}).status_code == 404


def test_a_session_expires_after_six_hours(client: TestClient, clock: FrozenClock) -> None:
    checkout = create(client).json()
    assert checkout["expires_at"] == "2026-06-01T18:00:00Z"
    clock.advance(hours=6)
    late = client.post(
        f"/ucp/v1/checkout-sessions/{checkout['id']}/complete", json=payment(), headers=headers()
    )
    assert late.status_code == 409
    assert "expired" in late.json()["detail"]
