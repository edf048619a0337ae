"""Simulated human shoppers: they browse the HTML store the way a person at a browser does.

A shopper loads pages and their assets, lets the storefront's interaction beacon report pointer
and key events, searches for its need (words, category and budget), looks at a few products,
sometimes clicks a sponsored listing, asks Help Me Decide when the store offers it, and
sometimes buys. It pauses like a person reading a page. Which products it likes comes from the
persona's hidden profile, which only the harness knows.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx

from sandbox.actors.base import ActorResult, RecordingClient
from sandbox.eval_decide import parse_stated_query
from sandbox.persona import Persona
from sandbox.utility import ProductTraits, utility

BROWSER_USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36",
)
HTML = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
# People read before they buy; the gate treats a faster first-page-to-checkout as automation.
MIN_SECONDS_BEFORE_CHECKOUT = 9.0

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_IDEMPOTENCY = re.compile(r'name="idempotency_key" value="([^"]+)"')
_PRODUCT_LINK = re.compile(r'href="/products/(\d+)"')
_AD_LINK = re.compile(r'href="(/products/(\d+)\?ad=\d+)"')
_SPONSORED_CARD = re.compile(r'class="card product-card is-sponsored')
_ASSET = re.compile(r'(?:href|src)="(/static/[^"?#]+)')
_BEACON_TOKEN = re.compile(r'src="/static/beacon\.js" data-token="([^"]*)"')
_PICK = re.compile(r'id="pick-(top|budget|premium)-title"><a href="/products/(\d+)"')
_DECIDE_FORM = re.compile(r'<form action="/help-me-decide"')
_DECIDE_CATEGORY = re.compile(r'name="category" value="([^"]*)"')
_ORDER_PATH = re.compile(r"^/orders/(\d+)$")


@dataclass(frozen=True)
class Need:
    """What a shopper comes for: what they would type or say, and the filters a person sets."""

    category: str
    query: str  # the stated need in words, e.g. "wireless headphones under 60"
    words: str  # the search words, without the budget
    budget: float | None  # the most they say they will pay

    @classmethod
    def of(cls, persona: Persona, category: str) -> Need:
        query = persona.query_for(category)
        words, max_price = parse_stated_query(query)
        budget = max_price or persona.profile.budgets.get(category)
        return cls(category=category, query=query, words=words, budget=budget)


@dataclass(frozen=True)
class ShopperPlan:
    """What one simulated shopper will try, fixed up front from the scenario's seed."""

    index: int
    persona: Persona
    seed: int
    buy_probability: float = 0.6
    use_help_me_decide: bool = True
    follow_help_me_decide: float = 0.0
    ad_click_rate: float = 0.0
    need: Need | None = None  # default: the persona's main interest
    email: str | None = None  # default: one per seed and index (and run, against a live store)
    run_tag: str = ""  # set for runs against a store that may have seen this seed before
    pace: float = 1.0  # multiplies every pause; the harness keeps it at 1 for honest timing

    @property
    def shopping_need(self) -> Need:
        return self.need or Need.of(self.persona, self.persona.main_category)

    @property
    def account_email(self) -> str:
        tag = f"-{self.run_tag}" if self.run_tag else ""
        return self.email or f"shopper-{self.seed}-{self.index}{tag}@shoppers.nile.example"


class SimulatedShopper:
    def __init__(
        self,
        base_url: str,
        plan: ShopperPlan,
        *,
        catalog: Mapping[int, ProductTraits] | None = None,
    ) -> None:
        self.plan = plan
        self.rng = random.Random(f"shopper:{plan.seed}:{plan.index}")
        self.catalog = catalog or {}
        self.result = ActorResult(
            name=f"shopper-{plan.index} ({plan.persona.key})",
            kind="human",
            persona=plan.persona.key,
        )
        user_agent = self.rng.choice(BROWSER_USER_AGENTS)
        self.client = RecordingClient(base_url, self.result, headers={"user-agent": user_agent})
        self.loaded_assets: set[str] = set()
        self.first_page_at: float | None = None
        self.first_beacon = True
        self.beacon_token = ""  # the last page's: the beacon reports for the page it runs on
        self.shopping = False  # pages count towards the journey once the shopper is shopping

    # --- the browser's mechanics -------------------------------------------------------

    def pause(self, low: float, high: float) -> None:
        time.sleep(self.rng.uniform(low, high) * self.plan.pace)

    def page(self, path: str) -> str:
        """Load a page like a browser: the HTML, its assets once, then the beacon's report."""
        response, _ = self.client.request("GET", path, headers=HTML)
        if self.first_page_at is None:
            self.first_page_at = time.monotonic()
        body = response.text if response.status_code == 200 else ""
        token = _BEACON_TOKEN.search(body)
        if token is not None:
            self.beacon_token = token.group(1)
        if body and self.shopping:
            self.result.pages_read += 1
            self.result.impressions_seen += len(_SPONSORED_CARD.findall(body))
        for asset in dict.fromkeys(_ASSET.findall(body)):
            if asset not in self.loaded_assets:
                self.loaded_assets.add(asset)
                self.client.request("GET", asset)
        if body:
            self.pause(0.4, 0.9)
            self.beacon(pointer=self.rng.randint(6, 40), keys=0)
        return body

    def beacon(self, *, pointer: int, keys: int) -> None:
        report: dict[str, object] = {
            "pointer": pointer,
            "keys": keys,
            "webdriver": False,
            "token": self.beacon_token,
        }
        if self.first_beacon:
            report["first_interaction_ms"] = round(self.rng.uniform(350, 1600))
            self.first_beacon = False
        self.client.request(
            "POST",
            "/api/v1/beacon",
            content=json.dumps(report),
            headers={"content-type": "text/plain;charset=UTF-8"},
        )

    def submit(self, action: str, page_html: str, fields: dict[str, str]) -> httpx.Response | None:
        """Post a form found on `page_html`, with its CSRF token, and follow the redirect."""
        token = _CSRF.search(page_html)
        if token is None:
            return None
        self.beacon(pointer=self.rng.randint(3, 12), keys=sum(len(v) for v in fields.values()))
        response, answer = self.client.request(
            "POST", action, data={"csrf_token": token.group(1), **fields}, headers=HTML
        )
        if answer.refused:
            return response
        followed = self.client.follow(response)
        return followed[0] if followed else response

    # --- the shopper's choices -----------------------------------------------------------

    def liking(self, product_id: int) -> float:
        facts = self.catalog.get(product_id)
        noise = self.rng.gauss(0, 0.05)
        if facts is None:
            return noise
        return utility(self.plan.persona.profile, facts) + noise

    def run(self) -> ActorResult:
        """Register, then shop: the whole visit of a shopper who came to the store."""
        try:
            if self.register():
                self.shop()
        except httpx.HTTPError as exc:
            self.result.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.close()
        return self.result

    def close(self) -> None:
        self.client.close()

    @property
    def password(self) -> str:
        return "sim-shopper-pass-1"

    def register(self) -> bool:
        """Open an account at the store (and stay logged in); False, with the outcome, if not."""
        if not self.page("/"):
            self.result.outcome = "could not load the store"
            return False
        register = self.page("/register")
        registered = self.submit(
            "/register",
            register,
            {
                "name": self.plan.persona.name,
                "email": self.plan.account_email,
                "password": self.password,
                "next": "/",
            },
        )
        if registered is None or registered.status_code >= 400:
            self.result.outcome = "could not register"
            return False
        return True

    def shop(self) -> None:
        """The journey at the store: search for the need, look, maybe ask, maybe buy."""
        self.shopping = True
        need = self.plan.shopping_need
        if not self.page("/"):
            self.result.outcome = "could not load the store"
            return
        # A person types the words and sets the filters the search page offers.
        params: dict[str, str] = {"q": need.words, "category": need.category}
        if need.budget is not None:
            params["max_price"] = f"{need.budget:g}"
        self.pause(0.5, 1.2)
        results = self.page(f"/search?{urlencode(params)}")
        found = [int(i) for i in dict.fromkeys(_PRODUCT_LINK.findall(results))][:12]
        clicked = self._click_ads(results)
        if not found and not clicked:
            self.result.outcome = f"found nothing for {need.query!r}"
            return
        to_view = sorted(found, key=lambda pid: -self.liking(pid))[: self.rng.randint(3, 5)]
        last_page = ""
        for product_id in to_view:
            self.pause(0.3, 0.9)
            last_page = self.page(f"/products/{product_id}")
            clicked += self._click_ads(last_page)
        candidates = list(dict.fromkeys([*to_view, *clicked]))
        picks: dict[str, int] = {}
        if self.plan.use_help_me_decide and _DECIDE_FORM.search(last_page):
            picks = self._help_me_decide(last_page)
            candidates += [pid for pid in picks.values() if pid not in candidates]
        if self.rng.random() >= self.plan.buy_probability:
            self.result.outcome = "browsed without buying"
            self.result.succeeded = True
            return
        if "top" in picks and self.rng.random() < self.plan.follow_help_me_decide:
            choice = picks["top"]  # trusts the store's pick instead of comparing
        else:
            choice = max(candidates, key=self.liking)
        self._buy(choice)

    def _click_ads(self, results: str) -> list[int]:
        """Open the sponsored listings that catch the eye; the store records each click."""
        clicked: list[int] = []
        for link, product_id in dict.fromkeys(_AD_LINK.findall(results)):
            if self.rng.random() < self.plan.ad_click_rate:
                self.pause(0.3, 0.9)
                if self.page(link):
                    self.result.ad_clicks += 1
                    clicked.append(int(product_id))
        return clicked

    def _help_me_decide(self, product_page: str) -> dict[str, int]:
        category = _DECIDE_CATEGORY.search(product_page)
        response = self.submit(
            "/help-me-decide", product_page, {"category": category.group(1) if category else ""}
        )
        if response is None or response.status_code != 200:
            return {}
        picks = {kind: int(pid) for kind, pid in _PICK.findall(response.text)}
        self.result.hmd_used = True
        self.result.hmd_top_pick = picks.get("top")
        self.result.hmd_category = category.group(1) if category else None
        self.pause(0.8, 1.6)  # reading the reasons
        return picks

    def _buy(self, product_id: int) -> None:
        product_page = self.page(f"/products/{product_id}")
        added = self.submit(
            "/cart/items", product_page, {"product_id": str(product_id), "quantity": "1"}
        )
        if added is None or added.status_code >= 400:
            self.result.refused_order_attempts += 1
            self.result.outcome = "could not add to the cart"
            return
        elapsed = time.monotonic() - (self.first_page_at or time.monotonic())
        if elapsed < MIN_SECONDS_BEFORE_CHECKOUT:
            time.sleep((MIN_SECONDS_BEFORE_CHECKOUT - elapsed) * self.plan.pace)
        checkout = self.page("/checkout")
        key = _IDEMPOTENCY.search(checkout)
        if key is None:
            self.result.refused_order_attempts += 1
            self.result.outcome = "checkout page unavailable"
            return
        placed = self.submit(
            "/checkout", checkout, {"idempotency_key": key.group(1), "payment_method": "mock-card"}
        )
        order = _ORDER_PATH.match(httpx.URL(str(placed.url)).path) if placed is not None else None
        if order is None:
            self.result.refused_order_attempts += 1
            self.result.outcome = "the order was not placed"
            return
        self.result.orders.append(int(order.group(1)))
        self.result.purchases.append(product_id)
        self.result.succeeded = True
        self.result.outcome = f"bought product {product_id}"
