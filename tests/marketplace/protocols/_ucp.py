"""A small UCP test shop written by the tests themselves, and UCP request helpers."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from httpx import Client, Response

from marketplace.core.db import Database
from marketplace.protocols.checkout.fixture import load_fixture
from tests.conftest import TEST_NOW

SHOP_FILES = {
    "products.csv": "id,title,price,image_url\n"
    "rose,Red Rose Bouquet,3500,https://example.com/rose.jpg\n"
    "tulip,Tulip Bunch,3000,\n"
    "sold_out,Sold Out Lily,2000,\n",
    "inventory.csv": "product_id,quantity\nrose,100\ntulip,20\nsold_out,0\n",
    "discounts.csv": "code,type,value,description\n"
    "10OFF,percentage,10,10% Off\nFIXED500,fixed_amount,500,$5.00 Off\n",
    "promotions.csv": "id,type,min_subtotal,eligible_item_ids,description\n"
    "big,free_shipping,10000,,Free shipping over $100\n",
    "shipping_rates.csv": "id,country_code,service_level,price,title\n"
    "std,default,standard,500,Standard Shipping\n"
    "exp-us,US,express,1500,Express (US)\n"
    "exp-intl,default,express,2500,International Express\n",
    "customers.csv": "id,name,email\nc1,Ann Buyer,ann@example.com\n",
    "addresses.csv": "id,customer_id,street_address,city,state,postal_code,country\n"
    "a1,c1,1 Main St,Springfield,IL,62704,US\n",
    "payment_instruments.csv": "id,type,brand,last_digits,token,handler_id\n"
    "i1,card,Visa,1234,success_token,mock_payment_handler\n"
    "i2,card,Visa,0000,fail_token,mock_payment_handler\n",
}
US = {"id": "d1", "street_address": "9 Elm St", "postal_code": "10001", "address_country": "US"}


def write_shop(folder: Path, **overrides: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in {**SHOP_FILES, **overrides}.items():
        (folder / name).write_text(text)
    return folder


def load_shop(database: Database, folder: Path, **overrides: str) -> None:
    with database.session() as session:
        load_fixture(session, write_shop(folder, **overrides), now=TEST_NOW)


def headers(
    key: str | None = None, profile: str = "https://agent.example/profile.json"
) -> dict[str, str]:
    return {
        "UCP-Agent": f'profile="{profile}"; version="2026-01-11"',
        "idempotency-key": key or str(uuid.uuid4()),
    }


def create_body(item: str = "rose", quantity: int = 1, *, ship: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "currency": "USD",
        "line_items": [{"item": {"id": item, "title": "ignored"}, "quantity": quantity}],
        "payment": {"instruments": [], "handlers": []},
    }
    if ship:
        body["fulfillment"] = {
            "methods": [
                {
                    "type": "shipping",
                    "destinations": [US],
                    "selected_destination_id": "d1",
                    "groups": [{"selected_option_id": "std"}],
                }
            ]
        }
    return body


def payment(token: str = "success_token") -> dict[str, Any]:
    return {
        "payment_data": {
            "id": "i1",
            "handler_id": "mock_payment_handler",
            "type": "card",
            "brand": "Visa",
            "last_digits": "1234",
            "credential": {"type": "token", "token": token},
        },
        "risk_signals": {},
    }


def total(checkout: dict[str, Any], kind: str = "total") -> int | None:
    return next((t["amount"] for t in checkout["totals"] if t["type"] == kind), None)


def create(client: TestClient | Client, body: dict[str, Any] | None = None) -> Response:
    return client.post("/ucp/v1/checkout-sessions", json=body or create_body(), headers=headers())
