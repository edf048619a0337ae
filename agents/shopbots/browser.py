"""The disguised browser: real Chromium through Playwright, posing as an ordinary Chrome user.

Stealth 0 is plain automation (instant fills, `navigator.webdriver` left true). Stealth 1 hides
`navigator.webdriver`, moves the mouse and types with human-like, seeded timing. Neither level
fakes its outcome: what gets through is whatever the gate decides.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlparse

from langchain_core.tools import BaseTool, StructuredTool

from shopbots.client import Step, StepListener
from shopbots.gate import GateAnswer, parse_parts
from shopbots.identity import CHROME_UA
from shopbots.tools import Record, gate_view

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright
    from playwright.sync_api import Request as PwRequest
    from playwright.sync_api import Response as PwResponse

CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
HIDE_WEBDRIVER = """
Object.defineProperty(Navigator.prototype, 'webdriver', {
  get: () => undefined, configurable: true,
});
"""
_ORDER_PATH = re.compile(r"/orders/(\d+)")


def find_chromium() -> str | None:
    """Debian's chromium (Playwright never downloads a browser here)."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class BrowserAgent:
    """One Chromium page posing as Chrome, with the record of every page the gate answered."""

    base_url: str
    stealth: int = 0
    seed: int = 0
    executable_path: str | None = None
    headless: bool = True
    user_agent: str = CHROME_UA
    on_step: StepListener | None = None
    # Scales the human-like pauses of stealth 1; tests may shorten them, never the CLI.
    pace: float = 1.0
    steps: list[Step] = field(default_factory=list)
    record: Record = field(default_factory=Record)
    _rng: random.Random = field(init=False, repr=False)
    _playwright: Playwright | None = field(default=None, init=False, repr=False)
    _browser: Browser | None = field(default=None, init=False, repr=False)
    _page: Page | None = field(default=None, init=False, repr=False)
    _owns_browser: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self._rng = random.Random(self.seed)

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self, browser: Browser | None = None) -> BrowserAgent:
        """Open a context and page, in `browser` when given (tests share one), else a new one."""
        if browser is None:
            from playwright.sync_api import sync_playwright

            executable = self.executable_path or find_chromium()
            if not executable:
                raise RuntimeError("chromium is not installed: `apt-get install chromium`")
            self._playwright = sync_playwright().start()
            browser = self._playwright.chromium.launch(
                executable_path=executable, headless=self.headless, args=list(CHROMIUM_ARGS)
            )
            self._owns_browser = True
        self._browser = browser
        context = browser.new_context(
            user_agent=self.user_agent,
            locale="en-US",
            viewport={"width": 1366, "height": 864},
            extra_http_headers={"accept-language": "en-US,en;q=0.9"},
        )
        if self.stealth >= 1:
            context.add_init_script(HIDE_WEBDRIVER)
        self._page = context.new_page()
        return self

    def close(self) -> None:
        if self._page is not None:
            self._page.context.close()
            self._page = None
        if self._owns_browser and self._browser is not None:
            self._browser.close()
        if self._playwright is not None:
            self._playwright.stop()
            self._playwright = None

    def __enter__(self) -> BrowserAgent:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def page(self) -> Page:
        if self._page is None:
            raise RuntimeError("call start() first")
        return self._page

    # --- recording ----------------------------------------------------------------------------

    def _log(self, response: PwResponse, body: str) -> GateAnswer:
        answer = parse_parts(response.status, response.headers, body)
        parsed = urlparse(response.url)
        step = Step(
            index=len(self.steps) + 1,
            method=response.request.method,
            path=parsed.path + (f"?{parsed.query}" if parsed.query else ""),
            answer=answer,
            user_agent=self.user_agent,
            signed=False,
            note=f"browser (stealth {self.stealth})",
        )
        self.steps.append(step)
        if answer.refused:
            self.record.refusals.append(answer)
        if self.on_step:
            self.on_step(step)
        return answer

    def _record(self, response: PwResponse | None) -> GateAnswer:
        """Log a navigation (and the redirects that led to it); the gate's answer to it."""
        if response is None:
            return GateAnswer(0, None, None, None, "the browser saw no page load")
        chain: list[PwRequest] = []
        request = response.request.redirected_from
        while request is not None:
            chain.insert(0, request)
            request = request.redirected_from
        refused: list[GateAnswer] = []
        for hop in chain:
            earlier = hop.response()
            if earlier is not None:
                hop_answer = self._log(earlier, "")
                if hop_answer.refused:
                    refused.append(hop_answer)
        # Read synchronously here rather than in an event handler, so the answer a tool
        # returns is always the one for the request it made.
        body = response.text() if response.status >= 400 else ""
        answer = self._log(response, body)
        return refused[0] if refused and not answer.refused else answer

    # --- human-like input ---------------------------------------------------------------------

    def _pause(self, low: float = 0.25, high: float = 0.9) -> None:
        if self.stealth >= 1:
            time.sleep(self._rng.uniform(low, high) * self.pace)

    def _click(self, selector: str) -> None:
        locator = self.page.locator(selector).first
        if self.stealth >= 1:
            box = locator.bounding_box()
            if box:
                x = box["x"] + box["width"] * self._rng.uniform(0.3, 0.7)
                y = box["y"] + box["height"] * self._rng.uniform(0.3, 0.7)
                self.page.mouse.move(x, y, steps=self._rng.randint(8, 20))
                self._pause(0.1, 0.3)
        locator.click()

    def _type(self, selector: str, text: str) -> None:
        if self.stealth >= 1:
            self._click(selector)
            for char in text:
                self.page.keyboard.type(char)
                time.sleep(self._rng.uniform(0.04, 0.14) * self.pace)
        else:
            self.page.fill(selector, text)

    def _read_page(self) -> None:
        """Stealth 1: look at the page for a few seconds, the pointer drifting as people's do."""
        if self.stealth < 1:
            return
        width, height = 1366, 864
        for _ in range(self._rng.randint(2, 4)):
            self._pause(0.4, 1.0)
            self.page.mouse.move(
                self._rng.uniform(0.1, 0.9) * width,
                self._rng.uniform(0.1, 0.8) * height,
                steps=self._rng.randint(5, 15),
            )
        if self._rng.random() < 0.5:
            self.page.mouse.wheel(0, self._rng.randint(120, 480))
        self._pause(0.3, 0.8)

    def _goto(self, path: str) -> GateAnswer:
        answer = self._record(self.page.goto(self.base_url + path, wait_until="load"))
        if answer.ok and not answer.refused:
            self._read_page()
        return answer

    def _submit(self, selector: str) -> GateAnswer:
        with self.page.expect_navigation(wait_until="load") as navigation:
            self._click(selector)
        answer = self._record(navigation.value)
        if answer.ok and not answer.refused:
            self._read_page()
        return answer

    # --- actions ------------------------------------------------------------------------------

    def login(self, email: str, password: str) -> dict[str, Any]:
        answer = self._goto("/login")
        if not answer.ok or answer.refused:
            return _result(answer)
        self._pause()
        self._type("#email", email)
        self._pause(0.2, 0.5)
        self._type("#password", password)
        self._pause(0.2, 0.6)
        answer = self._submit('form[action="/login"] button[type="submit"]')
        logged_in = (
            answer.ok
            and not answer.refused
            and not urlparse(self.page.url).path.startswith("/login")
        )
        self.record.logged_in = logged_in
        error = None
        if not logged_in and not answer.refused:
            error = "the login page came back; check the email and password"
        return _result(answer, logged_in=logged_in, error=error)

    def search(
        self, query: str, category: str | None = None, max_price: float | None = None
    ) -> dict[str, Any]:
        box = self.page.locator('input[name="q"]')
        filters = {"category": category, "max_price": f"{max_price:g}" if max_price else None}
        if any(filters.values()):
            # The search page's own filter form, as a person sets it: one page load with them.
            params = {"q": query, **{k: v for k, v in filters.items() if v}}
            answer = self._goto(f"/search?{urlencode(params)}")
        elif self.stealth >= 1 and box.count() > 0:
            self._pause()
            self._type('input[name="q"]', query)
            with self.page.expect_navigation(wait_until="load") as navigation:
                self.page.keyboard.press("Enter")
            answer = self._record(navigation.value)
        else:
            answer = self._goto(f"/search?q={quote(query)}")
        items: list[dict[str, Any]] = []
        if answer.ok and not answer.refused:
            for card in self.page.locator("article.product-card").all()[:10]:
                link = card.locator('a[href^="/products/"]').first
                href = link.get_attribute("href") or ""
                match = re.search(r"/products/(\d+)", href)
                if match:
                    classes = card.get_attribute("class") or ""
                    items.append(
                        {
                            "id": match.group(1),
                            "title": link.inner_text().strip(),
                            "sponsored": "is-sponsored" in classes,
                            "stock": 0 if "is-out-of-stock" in classes else None,
                            **_card_figures(card.inner_text()),
                        }
                    )
        return _result(answer, query=query, items=items)

    def view_product(self, product_id: str) -> dict[str, Any]:
        link = self.page.locator(f'a[href="/products/{product_id}"]')
        if self.stealth >= 1 and link.count() > 0:
            self._pause()
            answer = self._submit(f'a[href="/products/{product_id}"]')
        else:
            answer = self._goto(f"/products/{product_id}")
        if answer.ok and not answer.refused:
            self.record.products_viewed.add(str(product_id))
        return _result(answer, product_id=product_id)

    def add_to_cart(self, product_id: str) -> dict[str, Any]:
        if urlparse(self.page.url).path.rstrip("/") != f"/products/{product_id}":
            answer = self._goto(f"/products/{product_id}")
            if not answer.ok or answer.refused:
                return _result(answer)
        button = 'form[action="/cart/items"] button[type="submit"]'
        if self.page.locator(button).count() == 0:
            return _result(
                GateAnswer(200, None, None, None, None),
                ok=False,
                error="no add-to-cart button on the product page (out of stock?)",
            )
        self._pause()
        answer = self._submit(button)
        if answer.ok and not answer.refused:
            self.record.cart_items.append(str(product_id))
        return _result(answer, product_id=product_id)

    def checkout(self) -> dict[str, Any]:
        answer = self._goto("/checkout")
        if not answer.ok or answer.refused:
            return _result(answer)
        button = 'form[action="/checkout"] button[type="submit"]'
        if self.page.locator(button).count() == 0:
            return _result(answer, ok=False, error="the checkout page has no order button")
        self._pause(0.5, 1.5)
        answer = self._submit(button)
        match = _ORDER_PATH.search(urlparse(self.page.url).path)
        order = {"id": match.group(1)} if match and answer.ok and not answer.refused else None
        if order:
            self.record.orders.append(order)
        error = None
        if order is None and not answer.refused:
            error = f"no order confirmation; the browser is on {urlparse(self.page.url).path}"
        return _result(answer, order=order, ok=order is not None, error=error)


_PRICE = re.compile(r"[$€£]\s?([\d,]+(?:\.\d+)?)")
_RATING = re.compile(r"(\d(?:\.\d)?)\s*\(([\d,]+) reviews?\)")


def _card_figures(text: str) -> dict[str, float]:
    """Price, rating and review count as a product card shows them to anyone."""
    figures: dict[str, float] = {}
    if price := _PRICE.search(text):
        figures["price"] = float(price.group(1).replace(",", ""))
    if rating := _RATING.search(text):
        figures["rating"] = float(rating.group(1))
        figures["review_count"] = float(rating.group(2).replace(",", ""))
    return figures


def _result(answer: GateAnswer, **data: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"ok": answer.ok and not answer.refused, "gate": gate_view(answer)}
    payload.update({key: value for key, value in data.items() if value is not None})
    return payload


def build_browser_tools(agent: BrowserAgent) -> list[BaseTool]:
    """The browser's actions as LangChain tools, named like the API tools with `browser_`."""

    def browser_login(email: str, password: str) -> str:
        """Open /login in the browser and log in as the shopper."""
        return json.dumps(agent.login(email, password))

    def browser_search_products(
        query: str, category: str | None = None, max_price: float | None = None
    ) -> str:
        """Search the store through its search page (optionally in one category slug and up
        to a price); lists the product cards shown."""
        return json.dumps(agent.search(query, category, max_price))

    def browser_view_product(product_id: str) -> str:
        """Open a product page (clicking its link when it is on screen)."""
        return json.dumps(agent.view_product(product_id))

    def browser_add_to_cart(product_id: str) -> str:
        """Press "Add to cart" on the product's page."""
        return json.dumps(agent.add_to_cart(product_id))

    def browser_checkout() -> str:
        """Open /checkout and press "Place order"."""
        return json.dumps(agent.checkout())

    return [
        StructuredTool.from_function(function)
        for function in (
            browser_login,
            browser_search_products,
            browser_view_product,
            browser_add_to_cart,
            browser_checkout,
        )
    ]
