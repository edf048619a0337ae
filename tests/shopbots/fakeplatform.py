"""A tiny stand-in platform on httpx.MockTransport, speaking the gate's HTTP contract.

It lets the HTTP layer, the tools and the loop be tested without the real platform; the live tests
in this folder then run the same agents against the real one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import httpx

PRODUCTS = {
    str(i): {
        "id": i,
        "title": f"Headphones {i}",
        "brand": "Acme",
        "price": 10.0 + i,
        "rating": 4.0,
        "review_count": 3,
        "sponsored": i == 1,
        "stock": 5,
    }
    for i in range(1, 13)
}


@dataclass
class FakePlatform:
    """`refuse` maps a path prefix to (status, decision, rule); everything else is allowed."""

    robots: str = "User-agent: *\nAllow: /\n"
    refuse: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    throttle_once: set[str] = field(default_factory=set)
    requests: list[httpx.Request] = field(default_factory=list)
    orders: list[dict[str, object]] = field(default_factory=list)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def _gate(self, status: int, decision: str, rule: str) -> dict[str, str]:
        return {
            "x-policy-decision": decision,
            "x-policy-rule": rule,
            "x-visitor-class": "declared-agent",
        }

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        for prefix in sorted(self.throttle_once):
            if path.startswith(prefix):
                self.throttle_once.discard(prefix)
                headers = self._gate(429, "throttle", "test.rate")
                headers["retry-after"] = "2"
                return httpx.Response(
                    429, headers=headers, json={"title": "Slow down", "detail": "wait"}
                )
        for prefix, (status, decision, rule) in self.refuse.items():
            if path.startswith(prefix):
                headers = self._gate(status, decision, rule)
                if status == 402:
                    offered = request.headers.get("crawler-exact-price") == "USD 0.01" or (
                        request.headers.get("crawler-max-price", "").startswith("USD ")
                    )
                    if offered and "signature" in request.headers:
                        headers = self._gate(200, "allow", rule)
                        headers["crawler-charged"] = "USD 0.01"
                        return self._ok(request, headers)
                    headers["crawler-price"] = "USD 0.01"
                return httpx.Response(
                    status,
                    headers={**headers, "content-type": "application/problem+json"},
                    content=json.dumps(
                        {"title": "Refused", "detail": f"{rule} says no", "rule": rule}
                    ),
                )
        return self._ok(request, self._gate(200, "allow", "test.allow"))

    def _ok(self, request: httpx.Request, headers: dict[str, str]) -> httpx.Response:
        path = request.url.path
        if path == "/robots.txt":
            return httpx.Response(200, headers=headers, text=self.robots)
        if path in ("/", "/search"):
            links = "".join(f'<a href="/products/{i}">p{i}</a>' for i in PRODUCTS)
            return httpx.Response(200, headers={**headers, "content-type": "text/html"}, text=links)
        if match := re.fullmatch(r"/products/(\d+)", path):
            return httpx.Response(
                200,
                headers={**headers, "content-type": "text/html"},
                text=f"<h1>{match.group(1)}</h1>",
            )
        if path == "/api/v1/products":
            items = list(PRODUCTS.values())
            return httpx.Response(
                200,
                headers=headers,
                json={"items": items, "total": len(items), "page": 1, "page_size": 10},
            )
        if match := re.fullmatch(r"/api/v1/products/(\d+)", path):
            return httpx.Response(200, headers=headers, json=PRODUCTS[match.group(1)])
        if path == "/api/v1/sessions":
            body = json.loads(request.content)
            if body.get("password") != "pw":
                return httpx.Response(
                    401, headers=headers, json={"title": "Log in first", "detail": "wrong password"}
                )
            return httpx.Response(
                200, headers=headers, json={"access_token": "tok", "token_type": "bearer"}
            )
        if path == "/api/v1/cart/items":
            return httpx.Response(201, headers=headers, json={"items": [], "total": 0})
        if path == "/api/v1/orders":
            assert request.headers.get("idempotency-key")
            assert request.headers.get("authorization") == "Bearer tok"
            order = {"id": len(self.orders) + 1, "total": 11.0, "status": "placed"}
            self.orders.append(order)
            return httpx.Response(201, headers=headers, json=order)
        return httpx.Response(404, headers=headers, json={"title": "Not found", "detail": path})
