"""200 simulated shoppers and 50 outside agents against a served platform (bench.load).

Shoppers browse like people (think time of 1-4 s): the home page, searches, product pages in
HTML and JSON, and, for one in four, an account, a cart and an order. The agents: an AI crawler
(GPTBot), a declared AI shopping agent (ChatGPT-User) and the platform's own agent, which signs
every request with the platform's key (Web Bot Auth). Every agent answer is checked against the
policy: the visitor class the agent must be given, and the decision and rule of the policy's
table for that class, route class and method (a `throttle` where the rule is rate-limited).
A 5xx or a broken connection is an error; a refusal (403, 402, 429) is an answer. The checks'
tallies are written to BENCH_LOAD_OUT when locust quits.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from locust import FastHttpUser, between, events, task

from marketplace.gate.identity.keys import load_or_create_platform_key, platform_keyid
from marketplace.gate.identity.sign import sign_request
from marketplace.gate.normalize import normalize_path
from marketplace.gate.policy.compiled import CompiledPolicy
from marketplace.gate.policy.model import load_policy

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
BROWSER = {
    "user-agent": CHROME,
    "accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "accept-language": "en-GB,en;q=0.9",
    "accept-encoding": "gzip, deflate",
}
PRODUCTS = int(os.environ.get("BENCH_PRODUCTS", "2000"))
POLICY = CompiledPolicy(load_policy(os.environ.get("BENCH_POLICY", "closed")))
KEY_FILE = os.environ.get("BENCH_KEY_FILE", "")
WORDS = ["laptop", "headphones", "tent", "coffee maker", "running shoes", "backpack", "monitor"]

_lock = threading.Lock()
tally: Counter[str] = Counter()
mismatches: list[dict[str, Any]] = []
errors: Counter[str] = Counter()


def check(kind: str, expected_class: str, method: str, url: str, response: Any) -> None:
    """Compare the gate's headers with what the policy says for this agent and route."""
    parts = urlsplit(url)
    route = POLICY.routes.match(normalize_path(parts.path or "/"), parts.query)
    rule = POLICY.rule_for(expected_class, route, "GET" if method == "HEAD" else method)
    got_class = response.headers.get("x-visitor-class")
    got_decision = response.headers.get("x-policy-decision")
    got_rule = response.headers.get("x-policy-rule")
    ok = got_class == expected_class and (
        (got_decision == rule.action and got_rule == rule.id)
        or (got_decision == "throttle" and getattr(rule, "rate_limited", False))
    )
    with _lock:
        tally[f"{kind} {got_class} {got_decision} {got_rule}"] += 1
        if not ok and len(mismatches) < 50:
            mismatches.append(
                {
                    "agent": kind,
                    "method": method,
                    "path": parts.path,
                    "route_class": route,
                    "expected": [expected_class, rule.action, rule.id],
                    "got": [got_class, got_decision, got_rule],
                    "status": response.status_code,
                }
            )
        tally["checked"] += 1
        tally["mismatched"] += 0 if ok else 1


def judge(response: Any, name: str) -> None:
    """Only a server error or a broken connection fails a request; refusals are answers."""
    status = response.status_code
    if status == 0 or status >= 500:
        with _lock:
            errors[f"{name} {status}"] += 1
        response.failure(f"status {status}")
    else:
        response.success()


class Shopper(FastHttpUser):
    weight = 20
    wait_time = between(1, 4)

    def on_start(self) -> None:
        self.rng = random.Random()
        self.buyer = self.rng.random() < 0.25
        if self.buyer:
            email = f"load-{uuid.uuid4().hex[:12]}@example.com"
            body = {"email": email, "password": "correct horse battery", "name": "Load"}
            self.send("POST", "/api/v1/accounts", "/api/v1/accounts", json=body)
            login = {"email": email, "password": "correct horse battery"}
            self.send("POST", "/api/v1/sessions", "/api/v1/sessions", json=login)

    def send(self, method: str, path: str, name: str, **kwargs: Any) -> Any:
        headers = {**BROWSER, **kwargs.pop("headers", {})}
        with self.client.request(
            method, path, name=name, headers=headers, catch_response=True, **kwargs
        ) as response:
            judge(response, name)
            return response

    @task(3)
    def home(self) -> None:
        self.send("GET", "/", "/")

    @task(4)
    def search(self) -> None:
        self.send("GET", f"/search?q={self.rng.choice(WORDS)}", "/search")

    @task(6)
    def product_page(self) -> None:
        self.send("GET", f"/products/{self.rng.randint(1, PRODUCTS)}", "/products/[id]")

    @task(3)
    def product_json(self) -> None:
        path = f"/api/v1/products/{self.rng.randint(1, PRODUCTS)}"
        self.send("GET", path, "/api/v1/products/[id]", headers={"accept": "application/json"})

    @task(2)
    def search_json(self) -> None:
        path = f"/api/v1/products?q={self.rng.choice(WORDS)}"
        self.send("GET", path, "/api/v1/products?q", headers={"accept": "application/json"})

    @task(2)
    def cart(self) -> None:
        if not self.buyer:
            return
        body = {"product_id": self.rng.randint(1, PRODUCTS), "quantity": 1}
        json_accept = {"accept": "application/json"}
        self.send(
            "POST", "/api/v1/cart/items", "/api/v1/cart/items", json=body, headers=json_accept
        )
        self.send("GET", "/api/v1/cart", "/api/v1/cart", headers=json_accept)

    @task(1)
    def order(self) -> None:
        if not self.buyer:
            return
        headers = {"accept": "application/json", "Idempotency-Key": str(uuid.uuid4())}
        self.send("POST", "/api/v1/orders", "/api/v1/orders", headers=headers)


class _Agent(FastHttpUser):
    abstract = True
    kind = "agent"
    expected_class = "human"
    user_agent = CHROME
    wait_time = between(0.5, 2)

    def on_start(self) -> None:
        self.rng = random.Random()

    def extra_headers(self, method: str, path: str) -> dict[str, str]:
        return {}

    def visit(self, method: str, path: str, name: str) -> None:
        headers = {"user-agent": self.user_agent, "accept": "application/json"}
        headers.update(self.extra_headers(method, path))
        with self.client.request(
            method, path, name=f"{self.kind} {name}", headers=headers, catch_response=True
        ) as response:
            judge(response, name)
            check(self.kind, self.expected_class, method, path, response)

    @task(3)
    def product(self) -> None:
        self.visit(
            "GET", f"/api/v1/products/{self.rng.randint(1, PRODUCTS)}", "/api/v1/products/[id]"
        )

    @task(2)
    def search(self) -> None:
        self.visit("GET", f"/api/v1/products?q={self.rng.choice(WORDS)}", "/api/v1/products?q")

    @task(1)
    def page(self) -> None:
        self.visit("GET", f"/products/{self.rng.randint(1, PRODUCTS)}", "/products/[id]")

    @task(1)
    def robots(self) -> None:
        self.visit("GET", "/robots.txt", "/robots.txt")


class Crawler(_Agent):
    weight = 2
    kind = "gptbot"
    expected_class = "declared-crawler"
    user_agent = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)"


class DeclaredAgent(_Agent):
    weight = 2
    kind = "chatgpt-user"
    expected_class = "declared-agent"
    user_agent = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; ChatGPT-User/1.0; +https://openai.com/bot"

    @task(1)
    def cart(self) -> None:
        self.visit("GET", "/api/v1/cart", "/api/v1/cart")


class FirstPartyAgent(_Agent):
    weight = 1
    kind = "first-party"
    expected_class = "first-party-agent"
    user_agent = "NileAssistant/1.0 (+https://nile.test/assistant; first-party)"

    def on_start(self) -> None:
        super().on_start()
        self.key = load_or_create_platform_key(Path(KEY_FILE))
        self.keyid = platform_keyid(self.key)

    def extra_headers(self, method: str, path: str) -> dict[str, str]:
        return sign_request(
            method,
            f"{self.host}{path}",
            {},
            private_key=self.key,
            keyid=self.keyid,
            now=time.time(),
            nonce=secrets.token_urlsafe(16),
        )


@events.quitting.add_listener  # type: ignore[untyped-decorator]
def _write_tally(environment: Any, **_kwargs: Any) -> None:
    out = os.environ.get("BENCH_LOAD_OUT")
    if not out:
        return
    Path(out).write_text(
        json.dumps(
            {"tally": dict(tally), "mismatches": mismatches, "errors": dict(errors)}, indent=2
        )
    )
