"""The storefront's beacon in a real headless Chromium: what it reports reaches the bot score."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi import FastAPI

from marketplace.core.appstate import state_of
from marketplace.core.security import SESSION_COOKIE
from marketplace.core.shared.session_signals import SessionSignals
from marketplace.gate.identity.behaviour import compute_score, session_key
from sandbox.liveserver import LiveServer
from tests.conftest import CHROME_UA

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(params=["sqlite"])
def db_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    return sqlite_url


def wait_for_beacons(app: FastAPI, key: str, count: int, timeout_s: float = 10) -> SessionSignals:
    state = state_of(app).identity.state
    deadline = time.monotonic() + timeout_s
    signals = state.get_session_signals(key)
    while signals.beacons < count and time.monotonic() < deadline:
        time.sleep(0.1)
        signals = state.get_session_signals(key)
    return signals


def session_cookie(context: Any) -> str:
    for cookie in context.cookies():
        if cookie["name"] == SESSION_COOKIE:
            return str(cookie["value"])
    raise AssertionError("the store set no session cookie")


def test_automated_chromium_reports_webdriver(
    browser: Any, live_server: LiveServer, app: FastAPI
) -> None:
    context = browser.new_context(user_agent=CHROME_UA, base_url=live_server.url)
    try:
        page = context.new_page()
        page.goto("/")
        key = session_key(session_cookie(context), "127.0.0.1", CHROME_UA)
        signals = wait_for_beacons(app, key, 1)
        assert signals.beacons >= 1
        assert signals.webdriver_beacons >= 1  # Playwright's Chromium sets navigator.webdriver
        assert signals.assets >= 1  # the page's stylesheet and script were fetched
        score, reasons = compute_score(signals, facts=None, browser_ua=True)
        assert score == 1
        assert "webdriver" in reasons[0]
    finally:
        context.close()


def test_a_person_moving_the_mouse_is_reported_as_interaction(
    browser: Any, live_server: LiveServer, app: FastAPI
) -> None:
    context = browser.new_context(user_agent=CHROME_UA, base_url=live_server.url)
    # What a person's own browser says: no automation flag.
    context.add_init_script(
        "Object.defineProperty(Navigator.prototype, 'webdriver', {get: () => false})"
    )
    try:
        page = context.new_page()
        page.goto("/")
        for step in range(15):
            page.mouse.move(100 + 20 * step, 200 + 5 * step)
            page.wait_for_timeout(30)
        page.keyboard.press("Tab")
        key = session_key(session_cookie(context), "127.0.0.1", CHROME_UA)
        signals = wait_for_beacons(app, key, 1)
        signals = wait_for_beacons(app, key, 2)
        assert signals.webdriver_beacons == 0
        assert signals.pointer_events >= 5
        assert signals.first_interaction_ms is not None
        score, _ = compute_score(signals, facts=None, browser_ua=True)
        assert score >= 80
    finally:
        context.close()
