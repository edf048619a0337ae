"""The live dashboard in headless Chromium: it renders, and its numbers move with the traffic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.liveserver import LiveServer
from tests.conftest import ADMIN_TOKEN, CHROME_UA


@pytest.mark.browser
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_dashboard_updates_after_traffic(
    live_server: LiveServer, browser: Any, tmp_path: Path
) -> None:
    # The store sends a strict CSP; the test's own wait condition is evaluated JavaScript.
    page = browser.new_page(bypass_csp=True)
    try:
        page.goto(f"{live_server.url}/dashboard")
        page.fill("#token", ADMIN_TOKEN)
        page.click("form[action='/dashboard/login'] button")
        page.wait_for_selector("#requests-total")
        before = int(page.inner_text("#requests-total"))
        page.screenshot(path=str(tmp_path / "dashboard-before.png"), full_page=True)

        with httpx.Client(base_url=live_server.url, headers={"user-agent": CHROME_UA}) as client:
            for _ in range(15):
                client.get("/api/v1/products", params={"q": "tent"})
        crawler = httpx.get(
            f"{live_server.url}/api/v1/products", headers={"user-agent": "GPTBot/1.1"}
        )
        assert crawler.headers["x-visitor-class"] == "declared-crawler"

        # The page polls every two seconds; give it a few polls on a busy machine.
        page.wait_for_function(
            f"Number(document.getElementById('requests-total').textContent) >= {before + 16}"
            " && document.getElementById('classes').textContent.includes('declared-crawler')",
            timeout=20_000,
        )
        page.screenshot(path=str(tmp_path / "dashboard-after.png"), full_page=True)
    finally:
        page.close()
    assert (tmp_path / "dashboard-after.png").stat().st_size > 10_000
