"""/docs (Swagger UI) and /redoc (ReDoc) render the operations with no network beyond the store."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox.liveserver import LiveServer


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_docs_pages_reference_only_local_assets(live_server: LiveServer) -> None:
    for path, assets in (
        ("/docs", ("/static/api-docs/swagger-ui-bundle.js", "/static/api-docs/swagger-ui.css")),
        ("/redoc", ("/static/api-docs/redoc.standalone.js",)),
    ):
        page = httpx.get(live_server.url + path)
        assert page.status_code == 200, path
        assert "cdn." not in page.text
        assert "fonts.googleapis" not in page.text
        # The browser is told to fetch nothing from elsewhere either.
        assert "img-src 'self' data:" in page.headers["content-security-policy"]
        for asset in assets:
            assert asset in page.text, (path, asset)
            served = httpx.get(live_server.url + asset)
            assert served.status_code == 200, asset
            assert len(served.content) > 100_000, asset


def _offline_page(browser: Any, base_url: str) -> tuple[Any, list[str], list[str]]:
    """A page that may reach the store only; every other request is refused and recorded, and
    so is every script error."""
    outside: list[str] = []
    errors: list[str] = []
    page = browser.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))

    def route(request_route: Any) -> None:
        url = request_route.request.url
        if url.startswith(base_url) or url.startswith("data:"):
            request_route.continue_()
        else:
            outside.append(url)
            request_route.abort()

    page.route("**/*", route)
    return page, outside, errors


@pytest.mark.browser
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_swagger_ui_renders_the_operations_offline(live_server: LiveServer, browser: Any) -> None:
    page, outside, errors = _offline_page(browser, live_server.url)
    try:
        page.goto(f"{live_server.url}/docs")
        page.wait_for_selector(".opblock", timeout=30_000)
        summaries = page.locator(".opblock-summary-path").all_inner_texts()
        assert any("/api/v1/orders" in s for s in summaries), summaries[:10]
        assert any("/api/v1/policy/public" in s for s in summaries)
        assert page.locator(".opblock").count() >= 30
        # The security schemes make an Authorize button.
        assert page.locator(".btn.authorize").count() >= 1
    finally:
        page.close()
    assert outside == []
    assert errors == []


@pytest.mark.browser
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_redoc_renders_the_operations_offline(live_server: LiveServer, browser: Any) -> None:
    page, outside, errors = _offline_page(browser, live_server.url)
    try:
        page.goto(f"{live_server.url}/redoc")
        # The operation's own heading in the rendered body (the side menu collapses by tag).
        heading = page.locator("h2", has_text="Place an order from the cart").first
        heading.wait_for(timeout=30_000)
        assert page.locator("h2", has_text="robots.txt generated from the active policy").count()
        assert page.get_by_text("Idempotency-Key").count() >= 1
    finally:
        page.close()
    assert outside == []
    assert errors == []
