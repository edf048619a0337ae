"""A workshop's traffic (bench.workshop): shoppers browsing the HTML store, and outside agents.

Shoppers (two in three users) sign up through the HTML form, then search, open product pages
(which carry the Help Me Decide offer), add to the cart, look at it and check out, with 1-3 s
between steps. Outside agents (one in three) read the JSON API and product pages as a declared AI
shopping agent. Any answer of 400 or more, or a broken connection, is an error: in a workshop
every click must work (the gate watches in `observe`, it refuses nothing).
"""

from __future__ import annotations

import os
import random
import re
import uuid
from typing import Any

from locust import FastHttpUser, between, task

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
BROWSER = {
    "user-agent": CHROME,
    "accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "accept-language": "en-GB,en;q=0.9",
}
AGENT_UA = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; ChatGPT-User/1.0"
PRODUCTS = int(os.environ.get("BENCH_PRODUCTS", "2000"))
PASSWORD = "correct-horse-9"
WORDS = ["laptop", "headphones", "tent", "coffee maker", "running shoes", "backpack", "monitor"]
_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
_IDEMPOTENCY = re.compile(r'name="idempotency_key" value="([^"]*)"')


def _judge(response: Any) -> None:
    if response.status_code == 0 or response.status_code >= 400:
        response.failure(f"status {response.status_code}")
    else:
        response.success()


class Shopper(FastHttpUser):
    weight = 2
    wait_time = between(1, 3)

    def on_start(self) -> None:
        self.rng = random.Random()
        self.csrf = ""
        page = self.page("GET", "/register", "/register")
        self.csrf = self._csrf(page) or self.csrf
        email = f"workshop-{uuid.uuid4().hex[:12]}@example.com"
        form = {
            "csrf_token": self.csrf,
            "name": "Workshop Shopper",
            "email": email,
            "password": PASSWORD,
            "next": "/",
        }
        self.page("POST", "/register", "/register", data=form)

    def page(self, method: str, path: str, name: str, **kwargs: Any) -> str:
        with self.client.request(
            method,
            path,
            name=name,
            headers=BROWSER,
            catch_response=True,
            allow_redirects=False,
            **kwargs,
        ) as response:
            _judge(response)
            return response.text or ""

    def _csrf(self, html: str) -> str | None:
        match = _CSRF.search(html)
        return match.group(1) if match else None

    @task(3)
    def search(self) -> None:
        self.page("GET", f"/search?q={self.rng.choice(WORDS)}", "/search")

    @task(6)
    def product_page(self) -> None:
        html = self.page("GET", f"/products/{self.rng.randint(1, PRODUCTS)}", "/products/[id]")
        self.csrf = self._csrf(html) or self.csrf

    @task(2)
    def add_to_cart(self) -> None:
        pid = self.rng.randint(1, PRODUCTS)
        html = self.page("GET", f"/products/{pid}", "/products/[id]")
        self.csrf = self._csrf(html) or self.csrf
        form = {"csrf_token": self.csrf, "product_id": pid, "quantity": 1}
        self.page("POST", "/cart/items", "/cart/items", data=form)

    @task(1)
    def cart(self) -> None:
        self.page("GET", "/cart", "/cart")

    @task(1)
    def checkout(self) -> None:
        html = self.page("GET", "/checkout", "/checkout")
        key = _IDEMPOTENCY.search(html)
        csrf = self._csrf(html)
        if key is None or csrf is None:
            return  # an empty cart has no checkout form
        form = {
            "csrf_token": csrf,
            "idempotency_key": key.group(1),
            "payment_method": "mock-card",
            "card_last4": "4242",
        }
        self.page("POST", "/checkout", "/checkout", data=form)


class OutsideAgent(FastHttpUser):
    weight = 1
    wait_time = between(0.5, 2)

    def on_start(self) -> None:
        self.rng = random.Random()

    def visit(self, path: str, name: str, accept: str = "application/json") -> None:
        headers = {"user-agent": AGENT_UA, "accept": accept}
        with self.client.request(
            "GET", path, name=f"agent {name}", headers=headers, catch_response=True
        ) as response:
            _judge(response)

    @task(3)
    def product(self) -> None:
        self.visit(f"/api/v1/products/{self.rng.randint(1, PRODUCTS)}", "/api/v1/products/[id]")

    @task(2)
    def search(self) -> None:
        self.visit(f"/api/v1/products?q={self.rng.choice(WORDS)}", "/api/v1/products?q")

    @task(1)
    def page(self) -> None:
        path = f"/products/{self.rng.randint(1, PRODUCTS)}"
        self.visit(path, "/products/[id]", accept="text/html")
