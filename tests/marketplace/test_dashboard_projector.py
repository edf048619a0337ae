"""The dashboard on a projector: 1024x768, observe then closed, in headless Chromium.

Screenshots go to `tmp_path`, or to the folder named by DASHBOARD_SHOTS when it is set.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from sandbox.liveserver import LiveServer
from tests.conftest import ADMIN_TOKEN, CHROME_UA

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth"


@pytest.fixture(params=["sqlite"])
def db_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    return sqlite_url


def traffic(url: str) -> None:
    """A few shoppers' requests and a crawler's."""
    with httpx.Client(base_url=url, headers={"user-agent": CHROME_UA}) as shopper:
        for query in ("tent", "headphones", "coffee"):
            shopper.get("/api/v1/products", params={"q": query})
    with httpx.Client(base_url=url, headers={"user-agent": "GPTBot/1.1"}) as crawler:
        for path in ("/", "/api/v1/products", "/products/1", "/products/2"):
            crawler.get(path)


def number(page: Any, element_id: str) -> int:
    return int(page.inner_text(f"#{element_id}").replace(",", ""))


def test_the_dashboard_holds_at_1024_by_768_under_observe_then_closed(
    live_server: LiveServer, browser: Any, tmp_path: Path
) -> None:
    shots = Path(os.environ.get("DASHBOARD_SHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    # The store sends a strict CSP; the test's own wait conditions are evaluated JavaScript.
    context = browser.new_context(
        viewport={"width": 1024, "height": 768}, user_agent=CHROME_UA, bypass_csp=True
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        page.goto(f"{live_server.url}/dashboard")
        page.fill("#token", ADMIN_TOKEN)
        page.click("form[action='/dashboard/login'] button")
        page.wait_for_selector("#requests-total")
        assert page.inner_text("#policy-name") == "observe"

        traffic(live_server.url)
        # The crawler's pages are let through and counted as "would refuse", with their rule.
        page.wait_for_function(
            "Number(document.getElementById('requests-would-refuse').textContent) >= 4",
            timeout=20_000,
        )
        expect(page.locator("#observed")).to_contain_text("ai-crawlers-out")
        assert number(page, "requests-refused") == 0
        chart = page.locator("img#timeline")
        page.wait_for_function(
            "document.getElementById('timeline').complete"
            " && document.getElementById('timeline').naturalWidth > 0"
        )
        assert chart.bounding_box()["width"] <= 1024  # type: ignore[index]
        assert page.evaluate(NO_OVERFLOW), page.evaluate("document.documentElement.scrollWidth")
        page.screenshot(path=str(shots / "dashboard-observe-1024x768.png"))

        page.select_option("#preset", "closed")
        page.get_by_role("button", name="Switch").click()
        page.wait_for_url(re.compile(r"/dashboard$"))
        expect(
            page.get_by_role("status").filter(has_text="Policy switched to closed")
        ).to_be_visible()
        assert page.inner_text("#policy-name") == "closed"

        traffic(live_server.url)
        page.wait_for_function(
            "Number(document.getElementById('requests-refused').textContent) >= 4",
            timeout=20_000,
        )
        expect(page.locator("#refusals")).to_contain_text("ai-crawlers-out")
        assert page.evaluate(NO_OVERFLOW), page.evaluate("document.documentElement.scrollWidth")
        page.screenshot(path=str(shots / "dashboard-closed-1024x768.png"))
    finally:
        context.close()
    for name in ("dashboard-observe-1024x768.png", "dashboard-closed-1024x768.png"):
        assert (shots / name).stat().st_size > 10_000


def test_the_chart_is_an_svg_for_the_admin_only(live_server: LiveServer) -> None:
    anonymous = httpx.get(f"{live_server.url}/dashboard/timeline.svg")
    assert anonymous.status_code == 403
    with httpx.Client(base_url=live_server.url, headers={"user-agent": CHROME_UA}) as admin:
        page = admin.get("/dashboard", headers={"accept": "text/html"})
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf
        admin.post("/dashboard/login", data={"token": ADMIN_TOKEN, "csrf_token": csrf.group(1)})
        traffic(live_server.url)
        chart = admin.get("/dashboard/timeline.svg")
    assert chart.status_code == 200
    assert chart.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in chart.content
    assert b"declared-crawler" in chart.content
    assert b"<script" not in chart.content  # no chart script, nothing from a CDN
