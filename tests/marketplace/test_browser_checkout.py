"""A shopper in headless Chromium: register, search, open a product, add to cart, check out."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from sandbox.liveserver import LiveServer
from tests.conftest import CHROME_UA

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(params=["sqlite"])
def db_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """One database is enough here: both are covered by the HTTP tests of the same pages."""
    return sqlite_url


def test_shopper_registers_searches_and_checks_out(
    browser: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    context = browser.new_context(
        user_agent=CHROME_UA, viewport={"width": 1280, "height": 900}, base_url=live_server.url
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto("/")
        # The first Tab reaches the skip link, which moves focus past the header.
        page.keyboard.press("Tab")
        expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator("main#main")).to_be_focused()
        page.get_by_role("link", name="Create account").click()
        page.get_by_label("Your name").fill("Browser Shopper")
        page.get_by_label("Email").fill("browser@example.com")
        page.get_by_label("Password").fill("correct-horse-9")
        page.get_by_role("button", name="Create account").click()
        page.wait_for_url(f"{live_server.url}/")
        expect(page.get_by_text("Hi, Browser Shopper")).to_be_visible()

        page.get_by_label("Search Nile").fill("headphones")
        page.get_by_label("Search Nile").press("Enter")
        page.wait_for_url(re.compile(r"/search\?q=headphones"))
        expect(page.get_by_role("heading", name=re.compile("Results for"))).to_be_visible()

        # The first organic (not sponsored) result, in stock: open it, add two, check out.
        cards = page.locator(
            "article.product-card:not(.is-sponsored):not(.is-out-of-stock) .card-title a"
        )
        assert cards.count() > 0
        cards.first.click()
        page.wait_for_url(re.compile(r"/products/\d+$"))
        title = page.get_by_role("heading", level=1).inner_text()
        # Keyboard only: Enter in the quantity box submits the add-to-cart form.
        page.get_by_label("Quantity").fill("2")
        page.get_by_label("Quantity").press("Enter")
        page.wait_for_url(f"{live_server.url}/cart")
        expect(page.get_by_role("status").filter(has_text="Added 2")).to_be_visible()
        expect(page.get_by_role("link", name=title)).to_be_visible()

        page.get_by_role("link", name="Proceed to checkout").click()
        page.wait_for_url(f"{live_server.url}/checkout")
        page.get_by_label("Last four digits of your card").fill("4242")
        page.screenshot(path=str(tmp_path / "checkout.png"), full_page=True)
        page.get_by_role("button", name="Place order").click()
        page.wait_for_url(re.compile(r"/orders/\d+$"))
        order_url = page.url
        expect(page.get_by_text(re.compile(r"Order #\d+ is placed"))).to_be_visible()
        expect(page.get_by_text("ending in 4242")).to_be_visible()

        page.get_by_role("link", name="Orders", exact=True).click()
        page.wait_for_url(f"{live_server.url}/orders")
        order_path = order_url.removeprefix(live_server.url)
        expect(page.locator(f'a[href="{order_path}"]')).to_be_visible()
        page.screenshot(path=str(tmp_path / "orders.png"), full_page=True)
    except Exception:
        # What the browser showed when a step failed, kept beside the test's other output.
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        raise
    finally:
        context.close()
