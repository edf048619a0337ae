"""LangChain tools over the HTTP layer. A refusal is a tool result the agent reasons about, not an
exception: it carries the gate's decision, rule, visitor class, sentence, Retry-After and price.
"""

from __future__ import annotations

import html
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool
from protego import Protego

from shopbots.client import AgentClient, Exchange
from shopbots.gate import GateAnswer

_PRODUCT_LINK = re.compile(r"""href=["'](?:https?://[^/"']+)?(/products/(\d+))["'/?#]""")
_LISTING_LINK = re.compile(r"""href=["'](/search\?[^"'#]+)["']""")
# Route samples `fetch_robots` reports on, one per route class an agent cares about.
ROBOTS_SAMPLES = ("/", "/search", "/products/1", "/api/v1/products", "/cart", "/checkout")


@dataclass
class Record:
    """What the agent actually achieved, kept by the tools, so no brain can claim a success."""

    product_pages: set[str] = field(default_factory=set)
    products_viewed: set[str] = field(default_factory=set)
    robots_skipped: list[str] = field(default_factory=list)
    robots_disallowed: bool = False
    logged_in: bool = False
    cart_items: list[str] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    payments: list[str] = field(default_factory=list)
    refusals: list[GateAnswer] = field(default_factory=list)

    @property
    def first_refusal(self) -> GateAnswer | None:
        return self.refusals[0] if self.refusals else None


@dataclass
class ToolContext:
    """The state a set of tools shares: the client, robots.txt as fetched, and the record."""

    client: AgentClient
    record: Record = field(default_factory=Record)
    robots: Protego | None = None
    robots_found: bool = False
    prices: dict[str, str] = field(default_factory=dict)
    order_key: str | None = None
    # After one paid page, the crawler offers `crawler-max-price` up front (signed) on every
    # request, instead of taking a 402 and a retry per page.
    standing_offer: str | None = None
    max_wait_s: float = 10.0


def gate_view(answer: GateAnswer) -> dict[str, Any]:
    """The part of a gate answer a brain needs, with advice in plain words for refusals."""
    view: dict[str, Any] = {
        "status": answer.status,
        "decision": answer.decision,
        "rule": answer.rule,
        "visitor_class": answer.visitor_class,
        "refused": answer.refused,
    }
    if answer.reason:
        view["reason"] = answer.reason
    if answer.retry_after is not None:
        view["retry_after"] = answer.retry_after
    if answer.crawler_price:
        view["crawler_price"] = answer.crawler_price
    if answer.crawler_charged:
        view["crawler_charged"] = answer.crawler_charged
    if answer.refused:
        view["advice"] = {
            429: "throttled: wait retry_after seconds before the next request",
            402: "payment required: pay crawler_price with a signed request, or stop",
        }.get(answer.status, "refused: this identity may not use this route under the policy")
    return view


def _result(exchange: Exchange, ctx: ToolContext, **data: Any) -> str:
    answer = exchange.answer
    if answer.refused:
        ctx.record.refusals.append(answer)
    payload = {"ok": answer.ok and not answer.refused, "gate": gate_view(answer), **data}
    if not answer.ok and not answer.refused and answer.reason:
        payload["error"] = answer.reason
    return json.dumps(payload, default=str)


def listing_links(html_text: str) -> list[str]:
    """Same-site search and category listing links (they lead to more product pages)."""
    seen: dict[str, None] = {}
    for match in _LISTING_LINK.finditer(html_text):
        seen.setdefault(html.unescape(match.group(1)), None)
    return list(seen)


def product_links(html_text: str) -> list[str]:
    """Product page paths linked from an HTML page, in page order, without repeats."""
    seen: dict[str, None] = {}
    for match in _PRODUCT_LINK.finditer(html_text):
        seen.setdefault(match.group(1), None)
    return list(seen)


def _summarise_product(item: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "title", "brand", "price", "rating", "review_count", "stock", "sponsored")
    return {key: item[key] for key in keys if key in item}


def build_http_tools(ctx: ToolContext) -> list[BaseTool]:
    """The JSON-API and crawling tools, bound to one agent's client."""
    client = ctx.client

    def fetch_robots() -> str:
        """Fetch /robots.txt and say which route samples it lets this agent fetch."""
        exchange = client.get("/robots.txt", note="robots.txt")
        text = exchange.text if exchange.answer.status == 200 else ""
        ctx.robots = Protego.parse(text)
        ctx.robots_found = exchange.answer.status == 200
        ua = client.identity.user_agent
        may = {path: ctx.robots.can_fetch(client.base_url + path, ua) for path in ROBOTS_SAMPLES}
        ctx.record.robots_disallowed = not may["/products/1"]
        delay = ctx.robots.crawl_delay(ua)
        if delay and client.timing.kind == "polite":
            client.timing.delay_s = max(client.timing.delay_s, float(delay))
        return _result(
            exchange,
            ctx,
            found=ctx.robots_found,
            may_fetch=may,
            crawl_delay=delay,
            disallows_everything=not any(may.values()),
        )

    def check_robots(path: str) -> str:
        """Whether robots.txt (fetched before) lets this agent fetch `path`; sends no request."""
        if ctx.robots is None:
            return json.dumps({"ok": False, "error": "call fetch_robots first"})
        allowed = ctx.robots.can_fetch(client.base_url + path, client.identity.user_agent)
        if not allowed:
            ctx.record.robots_skipped.append(path)
        return json.dumps({"ok": True, "path": path, "allowed": allowed})

    def crawl_page(path: str) -> str:
        """GET an HTML page (e.g. / or /search?q=tent or /products/12); lists its product links."""
        if ctx.standing_offer:
            exchange = client.get(
                path, headers={"crawler-max-price": ctx.standing_offer}, note="crawl", sign=True
            )
        else:
            exchange = client.get(path, note="crawl")
        if exchange.answer.crawler_charged:
            ctx.record.payments.append(exchange.answer.crawler_charged)
        links: list[str] = []
        listings: list[str] = []
        if exchange.answer.ok and not exchange.answer.refused:
            links = product_links(exchange.text)
            listings = listing_links(exchange.text)
            if re.fullmatch(r"/products/\d+/?", path.split("?")[0]):
                ctx.record.product_pages.add(path.rstrip("/"))
        if exchange.answer.status == 402 and exchange.answer.crawler_price:
            ctx.prices[path] = exchange.answer.crawler_price
        return _result(
            exchange, ctx, path=path, product_links=links[:20], listing_links=listings[:20]
        )

    def pay_for_crawl(path: str, max_price: float) -> str:
        """Fetch `path` again, signed, accepting the quoted crawler-price (up to max_price)."""
        price = ctx.prices.get(path)
        if client.signer is None:
            return json.dumps({"ok": False, "error": "paying needs a signing key; I have none"})
        if price is None:
            return json.dumps({"ok": False, "error": f"no price was quoted for {path}"})
        amount = _amount(price)
        if amount is None or amount > max_price:
            return json.dumps({"ok": False, "error": f"the price {price} is above {max_price}"})
        exchange = client.get(path, headers={"crawler-exact-price": price}, note="pay", sign=True)
        if exchange.answer.ok and not exchange.answer.refused:
            ctx.record.payments.append(exchange.answer.crawler_charged or price)
            currency = price.split()[0] if " " in price else ""
            ctx.standing_offer = f"{currency} {max_price:g}".strip()
            links = product_links(exchange.text)
            listings = listing_links(exchange.text)
            if re.fullmatch(r"/products/\d+/?", path.split("?")[0]):
                ctx.record.product_pages.add(path.rstrip("/"))
        else:
            links, listings = [], []
        return _result(
            exchange,
            ctx,
            path=path,
            paid=exchange.answer.crawler_charged or None,
            product_links=links[:20],
            listing_links=listings[:20],
        )

    def search_products(
        query: str, page: int = 1, category: str | None = None, max_price: float | None = None
    ) -> str:
        """Search the catalog through the JSON API (optionally in one category slug and up to
        a price); returns the top results."""
        params: dict[str, Any] = {"q": query, "page": page, "page_size": 10}
        if category:
            params["category"] = category
        if max_price is not None:
            params["max_price"] = max_price
        exchange = client.get("/api/v1/products", params=params, note="search")
        body = exchange.json() if exchange.answer.ok else None
        items = body.get("items", []) if isinstance(body, dict) else []
        return _result(
            exchange,
            ctx,
            query=query,
            total=body.get("total") if isinstance(body, dict) else None,
            items=[_summarise_product(item) for item in items[:10]],
        )

    def view_product(product_id: str) -> str:
        """Read one product through the JSON API."""
        exchange = client.get(f"/api/v1/products/{product_id}", note="product")
        body = exchange.json() if exchange.answer.ok else None
        if exchange.answer.ok and not exchange.answer.refused:
            ctx.record.products_viewed.add(str(product_id))
        product = _summarise_product(body) if isinstance(body, dict) else None
        return _result(exchange, ctx, product=product)

    def login(email: str, password: str) -> str:
        """Log in as the shopper this agent acts for; later requests carry the session."""
        exchange = client.post(
            "/api/v1/sessions", json={"email": email, "password": password}, note="login"
        )
        body = exchange.json()
        token = body.get("access_token") if isinstance(body, dict) else None
        if exchange.answer.ok and not exchange.answer.refused and isinstance(token, str):
            client.set_bearer(token)
            ctx.record.logged_in = True
        return _result(exchange, ctx, logged_in=ctx.record.logged_in)

    def add_to_cart(product_id: str, quantity: int = 1) -> str:
        """Put a product in the logged-in shopper's cart."""
        exchange = client.post(
            "/api/v1/cart/items",
            json={"product_id": _id(product_id), "quantity": quantity},
            note="add to cart",
        )
        if exchange.answer.ok and not exchange.answer.refused:
            ctx.record.cart_items.append(str(product_id))
        return _result(exchange, ctx, product_id=product_id)

    def view_cart() -> str:
        """Read the logged-in shopper's cart."""
        exchange = client.get("/api/v1/cart", note="cart")
        body = exchange.json() if exchange.answer.ok else None
        return _result(exchange, ctx, cart=body if isinstance(body, dict) else None)

    def place_order() -> str:
        """Order the cart (mock payment). One Idempotency-Key per order, reused on retries."""
        ctx.order_key = ctx.order_key or str(uuid.uuid4())
        exchange = client.post(
            "/api/v1/orders", headers={"idempotency-key": ctx.order_key}, note="order"
        )
        body = exchange.json()
        order = None
        if exchange.answer.ok and not exchange.answer.refused and isinstance(body, dict):
            order = {key: body[key] for key in ("id", "total", "status") if key in body}
            ctx.record.orders.append(order)
            ctx.order_key = None
        return _result(exchange, ctx, order=order)

    def wait(seconds: float) -> str:
        """Pause before the next request, e.g. for a Retry-After (capped)."""
        waited = client.timing.wait(min(float(seconds), ctx.max_wait_s))
        return json.dumps({"ok": True, "waited_s": waited})

    functions = (
        fetch_robots,
        check_robots,
        crawl_page,
        pay_for_crawl,
        search_products,
        view_product,
        login,
        add_to_cart,
        view_cart,
        place_order,
        wait,
    )
    return [StructuredTool.from_function(function) for function in functions]


def _amount(price: str) -> float | None:
    match = re.search(r"\d+(?:\.\d+)?", price)
    return float(match.group(0)) if match else None


def _id(product_id: str) -> int | str:
    return int(product_id) if str(product_id).isdigit() else product_id
