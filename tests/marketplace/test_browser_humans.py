"""People in Chromium under the closed policy: never taken for a bot, and a way through if they are.

The person's browser is Chromium with `navigator.webdriver` hidden, as a person's browser has it
(Playwright's own flag is what an automated browser shows). Every answer the store sends during
the human flows is collected: none may be a refusal or classed suspected-agent.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from sandbox.liveserver import LiveServer
from shopbots.browser import HIDE_WEBDRIVER
from tests.conftest import CHROME_UA
from tests.marketplace._shop import product_with_stock

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOPPER_EMAIL = "student@personas.nile.test"
SHOPPER_PASSWORD = "persona-pass-1"


@pytest.fixture(params=["sqlite"])
def db_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    return sqlite_url


@pytest.fixture
def policy() -> str:
    return "closed"


class Answers:
    """Every answer of the store to one browser context: (path, decision, visitor class)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    def __call__(self, response: Any) -> None:
        headers = response.headers
        if "x-policy-decision" in headers:
            path = re.sub(r"^https?://[^/]+", "", response.url)
            self.seen.append((path, headers["x-policy-decision"], headers["x-visitor-class"]))

    def refused(self) -> list[tuple[str, str, str]]:
        return [a for a in self.seen if a[1] != "allow" or a[2] == "suspected-agent"]


def person(browser: Any, live_server: LiveServer, answers: Answers, **options: Any) -> Any:
    context = browser.new_context(
        user_agent=CHROME_UA, viewport={"width": 1280, "height": 900}, base_url=live_server.url,
        **options,
    )  # fmt: skip
    context.add_init_script(HIDE_WEBDRIVER)
    context.on("response", answers)
    page = context.new_page()
    page.set_default_timeout(15_000)
    return context, page


def block_assets(context: Any) -> None:
    """Styles and scripts blocked (an extension, a broken proxy): the store sees what a script
    sends. Only the challenge page's own script still loads."""

    def handle(route: Any) -> None:
        if route.request.url.endswith("/static/challenge.js"):
            route.continue_()
        else:
            route.abort()

    context.route(re.compile(r".*/static/.*"), handle)


@pytest.fixture
def answers() -> Answers:
    return Answers()


def test_product_then_log_in_then_add_to_cart_within_seconds(
    browser: Any, live_server: LiveServer, database: Any, answers: Answers
) -> None:
    product = product_with_stock(database, 2)
    context, page = person(browser, live_server, answers)
    try:
        # A visit earlier in this browser: its styles and scripts are in the cache now.
        page.goto("/")
        page.goto(f"/products/{product}")
        page.locator(f'a[href="/login?next=/products/{product}"]').click()
        page.wait_for_url(re.compile(r"/login"))
        page.locator("#email").press_sequentially(SHOPPER_EMAIL)
        page.locator("#password").press_sequentially(SHOPPER_PASSWORD)
        page.locator("#password").press("Enter")
        page.wait_for_url(re.compile(rf"/products/{product}$"))
        page.get_by_role("button", name="Add to cart").click()
        page.wait_for_url(re.compile(r"/cart$"))
        expect(page.get_by_role("link", name="Proceed to checkout")).to_be_visible()
        page.get_by_role("link", name="Proceed to checkout").click()
        page.wait_for_url(re.compile(r"/checkout$"))
        expect(page.get_by_role("button", name="Place order")).to_be_visible()
    finally:
        context.close()
    assert answers.refused() == [], answers.seen
    assert any(path == "/cart" for path, _, _ in answers.seen)


def test_a_challenged_person_gets_through_with_javascript(
    browser: Any, live_server: LiveServer, answers: Answers
) -> None:
    context, page = person(browser, live_server, answers)
    block_assets(context)
    try:
        for path in ("/", "/search?q=tent", "/products/1", "/products/2"):
            page.goto(path)
        with page.expect_response(re.compile(r"/cart$")) as first:
            page.goto("/cart")
        assert first.value.status == 403
        assert first.value.headers["x-policy-decision"] == "challenge"
        # The page's script proves a browser runs it and loads the cart again, which (nobody
        # is logged in) sends the person to log in.
        page.wait_for_url(re.compile(r"/login\?next=%2Fcart$"))
        expect(page.locator("#email")).to_be_visible()
    finally:
        context.close()
    carts = [a for a in answers.seen if a[0] == "/cart"]
    assert carts[-1][1:] == ("allow", "human"), answers.seen


def test_without_javascript_the_challenge_holds(
    browser: Any, live_server: LiveServer, answers: Answers
) -> None:
    context, page = person(browser, live_server, answers, java_script_enabled=False)
    block_assets(context)
    try:
        for path in ("/", "/search?q=tent", "/products/1", "/products/2"):
            page.goto(path)
        page.goto("/cart")
        expect(page.get_by_text("This check needs JavaScript")).to_be_visible()
        page.wait_for_timeout(1500)
        again = page.goto("/cart")
        assert again is not None
        assert again.status == 403
    finally:
        context.close()


def test_an_automated_browser_that_admits_it_stays_challenged(
    browser: Any, live_server: LiveServer
) -> None:
    context = browser.new_context(user_agent=CHROME_UA, base_url=live_server.url)
    page = context.new_page()
    try:
        for path in ("/", "/search?q=tent", "/products/1", "/products/2"):
            page.goto(path)
        with page.expect_response(re.compile(r"/api/v1/challenge$")) as posted:
            page.goto("/cart")
        assert posted.value.status == 403  # navigator.webdriver: true
        expect(page.locator("#challenge-status")).to_contain_text("did not pass")
        again = page.goto("/cart")
        assert again is not None
        assert again.status == 403
    finally:
        context.close()
