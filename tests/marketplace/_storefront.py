"""Helpers of the HTML store's tests: forms, CSRF tokens, a shopper with a cart."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from marketplace.catalog.models import Product
from marketplace.core.db import Database

PASSWORD = "correct-horse-9"
HTML = {"accept": "text/html,application/xhtml+xml"}

_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
_PRICE = re.compile(r'<p class="price">\$([0-9,]+\.[0-9]{2})</p>')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden field {name}"
    return match.group(1)


def register(client: TestClient, email: str, name: str = "Pat Shopper") -> None:
    page = client.get("/register")
    response = client.post(
        "/register",
        data={
            "csrf_token": csrf_of(page.text),
            "name": name,
            "email": email,
            "password": PASSWORD,
            "next": "/",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def in_stock_product(database: Database, *, min_stock: int = 5) -> tuple[int, str]:
    with database.session() as session:
        row = session.execute(
            select(Product.id, Product.title)
            .where(Product.stock >= min_stock)
            .order_by(Product.id)
            .limit(1)
        ).one()
    return int(row[0]), str(row[1])


def add_to_cart(client: TestClient, product_id: int, quantity: int = 1) -> None:
    page = client.get(f"/products/{product_id}")
    response = client.post(
        "/cart/items",
        data={"csrf_token": csrf_of(page.text), "product_id": product_id, "quantity": quantity},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/cart"


def prices(html: str) -> list[float]:
    return [float(p.replace(",", "")) for p in _PRICE.findall(html)]


# --- Pages ------------------------------------------------------------------------------------
