"""ACP order events reach a live loopback receiver: signed, retried, never holding up a request."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from marketplace.core.db import Database
from marketplace.core.settings import Settings
from tests.conftest import ADMIN_TOKEN, TEST_CATALOG_SIZE, TEST_NOW, TEST_SEED
from tests.marketplace._shop import product_with_stock
from tests.marketplace.gate import _signing

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
VERSION = {"API-Version": "2025-09-29"}
NOW = int(TEST_NOW.timestamp())
STORE_SECRET = "store-wide-webhook-secret"
ADDRESS = {
    "name": "Ada Lovelace",
    "line_one": "12 Market Street",
    "city": "San Francisco",
    "state": "CA",
    "country": "US",
    "postal_code": "94103",
}


class Receiver:
    """An order-event receiver on a loopback port: records each POST, can fail or hold them."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, str], bytes]] = []
        self.fail_next = 0
        self.release = threading.Event()
        self.release.set()
        self.arrived = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.release.wait(10)
                with outer.arrived:
                    status = 500 if outer.fail_next else 200
                    outer.fail_next = max(0, outer.fail_next - 1)
                    outer.events.append((self.path, dict(self.headers), body))
                    outer.arrived.notify_all()
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int) -> list[tuple[str, dict[str, str], bytes]]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.events) >= count, timeout=15), self.events
            return list(self.events)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def settings(tmp_path: Path, db_url: str, policy: str, receiver: Receiver) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        admin_token=ADMIN_TOKEN,
        secret_key="test-secret-key",
        policy=policy,
        seed=TEST_SEED,
        catalog_size=TEST_CATALOG_SIZE,
        acp_webhook_url=f"{receiver.url}/store-hook",
        acp_webhook_secret=STORE_SECRET,
    )


def checkout(client: TestClient, database: Database, key: str, sign: Any = None) -> dict[str, Any]:
    """Create a ready session and complete it; `sign(path)` adds signature headers."""
    product = product_with_stock(database)

    def post(path: str, body: dict[str, Any], suffix: str) -> dict[str, Any]:
        headers = {**VERSION, "Idempotency-Key": f"{key}-{suffix}"}
        if sign is not None:
            headers.update(sign(path))
        answer = client.post(path, json=body, headers=headers)
        assert answer.status_code in (200, 201), answer.text
        found: dict[str, Any] = answer.json()
        return found

    body = {"items": [{"id": str(product), "quantity": 1}], "fulfillment_address": ADDRESS}
    session = post("/checkout_sessions", body, "create")
    path = f"/checkout_sessions/{session['id']}/complete"
    return post(path, {"payment_data": {"token": "spt_test_4242"}}, "complete")


def test_store_webhook_gets_signed_order_events_after_the_answer(
    client: TestClient, database: Database, receiver: Receiver
) -> None:
    receiver.release.clear()  # the receiver holds every delivery until released
    done = checkout(client, database, "a")
    assert done["status"] == "completed"
    # The completion was answered while the receiver still held the first event.
    assert receiver.events == []
    receiver.release.set()
    events = receiver.wait_for(2)
    kinds = []
    for path, headers, body in events:
        assert path == "/store-hook"
        expected = hmac.new(STORE_SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers["merchant-signature"] == expected
        event = json.loads(body)
        kinds.append((event["type"], event["data"]["status"]))
        assert event["data"]["checkout_session_id"] == done["id"]
        assert event["data"]["type"] == "order"
        assert event["data"]["refunds"] == []
    assert kinds == [("order_create", "created"), ("order_update", "confirmed")]


def test_a_failed_delivery_is_tried_again(
    client: TestClient, database: Database, receiver: Receiver
) -> None:
    receiver.fail_next = 1
    checkout(client, database, "b")
    events = receiver.wait_for(3)
    first, retry, update = (json.loads(body)["type"] for _, _, body in events[:3])
    assert (first, retry, update) == ("order_create", "order_create", "order_update")


@pytest.mark.parametrize("policy", ["open"])
def test_a_signed_partner_sets_its_own_webhook(
    client: TestClient, database: Database, receiver: Receiver
) -> None:
    key = _signing.register_partner(client, ADMIN, name="acme")

    def sign(path: str, method: str = "POST") -> dict[str, str]:
        return _signing.sign_now(key, path=path, now=NOW, method=method)

    unsigned = client.put("/api/v1/acp/webhook", json={"url": f"{receiver.url}/acme"})
    assert unsigned.status_code == 403
    assert unsigned.json()["type"] == "/problems/acp-webhook-unsigned"
    secret = "acme-secret-0123456789"
    setting = client.put(
        "/api/v1/acp/webhook",
        json={"url": f"{receiver.url}/acme", "secret": secret},
        headers=sign("/api/v1/acp/webhook", "PUT"),
    )
    assert setting.status_code == 200, setting.text
    assert setting.json() == {"partner": "acme", "url": f"{receiver.url}/acme", "secret": secret}
    shown = client.get("/api/v1/acp/webhook", headers=sign("/api/v1/acp/webhook", "GET"))
    assert shown.json() == {"partner": "acme", "url": f"{receiver.url}/acme"}

    done = checkout(client, database, "c", sign=sign)
    assert done["status"] == "completed"
    events = receiver.wait_for(2)
    assert [path for path, _, _ in events] == ["/acme", "/acme"]
    for _, headers, body in events:
        assert headers["merchant-signature"] == (
            hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        )
    gone = client.delete("/api/v1/acp/webhook", headers=sign("/api/v1/acp/webhook", "DELETE"))
    assert gone.status_code == 204
