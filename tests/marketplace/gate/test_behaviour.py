"""Behaviour signals, the bot score, the beacon endpoint and the storefront's beacon script."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from marketplace.app import STATIC_DIR, create_app
from marketplace.core.appstate import state_of
from marketplace.core.clock import FrozenClock
from marketplace.core.db import Database
from marketplace.core.security import SESSION_COOKIE
from marketplace.core.settings import Settings
from marketplace.core.shared.database_store import DatabaseStore
from marketplace.core.shared.session_signals import SessionSignals
from marketplace.core.shared.state import SharedState
from marketplace.gate.facts import RequestFacts
from marketplace.gate.identity.beacon_token import BeaconTokens
from marketplace.gate.identity.behaviour import (
    BehaviourTracker,
    compute_score,
    facts_session_key,
    parse_beacon,
    session_key,
)
from tests.marketplace.gate import _identity_db

migrated_url = _identity_db.migrated_url
gate_database = _identity_db.gate_database

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
T = NOW.timestamp()
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


class Bands:
    """The default thresholds of the policy: 1 automated, below 30 likely automated."""

    def band(self, score: int) -> str:
        if score <= 1:
            return "automated"
        return "likely-automated" if score < 30 else "likely-human"


def facts(
    path: str,
    route_class: str,
    *,
    method: str = "GET",
    session: str | None = "cookie-1",
    is_asset: bool = False,
) -> RequestFacts:
    return RequestFacts(
        method=method,
        path=path,
        raw_path=path,
        query="",
        authority="shop.test",
        scheme="http",
        headers=(("user-agent", CHROME),),
        client_ip="10.0.0.1",
        session_id=session,
        route_class=route_class,
        is_asset=is_asset,
    )


# --- The score ------------------------------------------------------------------------------


def test_a_first_visit_is_in_the_human_band() -> None:
    score, reasons = compute_score(
        SessionSignals(first_seen=T, last_seen=T, requests=1, pages=1, views=1),
        facts=facts("/", "catalog"),
        browser_ua=True,
    )
    assert score >= 30
    assert reasons == ()


def test_webdriver_is_scored_automated() -> None:
    score, reasons = compute_score(
        SessionSignals(pages=3, assets=6, beacons=1, webdriver_beacons=1, pointer_events=20),
        facts=None,
        browser_ua=True,
    )
    assert score == 1
    assert "webdriver" in reasons[0]


def test_a_person_browsing_scores_high() -> None:
    signals = SessionSignals(
        first_seen=T,
        last_seen=T + 120,
        requests=6,
        pages=4,
        assets=12,
        views=4,
        beacons=4,
        pointer_events=180,
        key_events=12,
        first_interaction_ms=900,
        first_checkout=T + 110,
    )
    score, reasons = compute_score(signals, facts=facts("/cart", "cart"), browser_ua=True)
    assert score >= 90, reasons
    assert reasons == ()


def test_pages_without_assets_or_beacons_score_automated() -> None:
    signals = SessionSignals(first_seen=T, last_seen=T + 5, requests=4, pages=4, views=4)
    score, reasons = compute_score(signals, facts=facts("/products/1", "product"), browser_ua=True)
    assert score < 30
    assert any("styles or scripts" in r for r in reasons)
    assert any("beacon" in r for r in reasons)


def test_beacons_without_any_interaction_lower_the_score() -> None:
    signals = SessionSignals(first_seen=T, last_seen=T + 30, pages=2, assets=4, views=2, beacons=2)
    score, reasons = compute_score(signals, facts=None, browser_ua=True)
    assert score < 80
    assert any("no pointer or key events" in r for r in reasons)


def test_inhuman_first_interaction_is_a_reason() -> None:
    signals = SessionSignals(
        first_seen=T, pages=2, assets=4, beacons=1, pointer_events=3, first_interaction_ms=5
    )
    _, reasons = compute_score(signals, facts=None, browser_ua=True)
    assert any("ms after load" in r for r in reasons)


def test_checkout_moments_after_the_first_page_is_suspect() -> None:
    signals = SessionSignals(
        first_seen=T, last_seen=T + 2, requests=3, pages=1, views=1, first_checkout=T + 2
    )
    score, reasons = compute_score(signals, facts=facts("/checkout", "checkout"), browser_ua=True)
    assert any("after the first page" in r for r in reasons)
    assert score < 30


def test_api_checkout_with_browser_ua_and_no_views() -> None:
    signals = SessionSignals(first_seen=T, last_seen=T, requests=1, first_checkout=T)
    score, reasons = compute_score(
        signals,
        facts=facts("/api/v1/orders", "checkout", method="POST"),
        browser_ua=True,
    )
    assert score < 30
    assert any("API checkout" in r for r in reasons)


def test_request_rate_is_a_reason() -> None:
    signals = SessionSignals(first_seen=T, pages=1, assets=3)
    score, reasons = compute_score(signals, facts=None, browser_ua=True, recent_requests=200)
    assert any("requests in" in r for r in reasons)
    assert score <= 30


# --- Tracking through the shared state ------------------------------------------------------


def test_tracker_counts_pages_assets_and_scores(gate_database: Database) -> None:
    state = SharedState(
        DatabaseStore(gate_database.engine), clock=FrozenClock(NOW), background=False
    )
    tracker = BehaviourTracker(state, tokens=BeaconTokens("test-secret-key"))
    tracker.observe_and_score(facts("/", "catalog"), now=T, bands=Bands(), browser_ua=True)
    tracker.observe_and_score(
        facts("/static/store.css", "assets", is_asset=True), now=T, bands=Bands(), browser_ua=True
    )
    result = tracker.observe_and_score(
        facts("/products/3", "product"), now=T + 20, bands=Bands(), browser_ua=True
    )
    assert (result.signals.pages, result.signals.assets, result.signals.views) == (2, 1, 2)
    assert result.band == "likely-human"
    state.flush()
    stored = state.store.fetch_signals([facts_session_key(facts("/", "catalog"))])
    assert next(iter(stored.values())).pages == 2


def test_sessions_are_keyed_by_a_hash_never_the_cookie() -> None:
    key = session_key("secret-session-token", "1.2.3.4", CHROME)
    assert "secret-session-token" not in key
    assert key != session_key(None, "1.2.3.4", CHROME)
    assert session_key(None, "1.2.3.4", CHROME) == session_key(None, "1.2.3.4", CHROME)
    assert session_key(None, "1.2.3.4", CHROME) != session_key(None, "1.2.3.5", CHROME)


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"[1, 2]", b'{"pointer": -1}', b'{"keys": "many"}', b"x" * 5000],
)
def test_malformed_beacons_are_ignored(raw: bytes) -> None:
    assert parse_beacon(raw) is None


def test_a_beacon_body_is_read() -> None:
    body = parse_beacon(b'{"pointer": 4, "keys": 1, "webdriver": true, "first_interaction_ms": 9}')
    assert body is not None
    assert (body.pointer, body.keys, body.webdriver, body.first_interaction_ms) == (4, 1, True, 9)


# --- The beacon over HTTP -------------------------------------------------------------------


@pytest.fixture
def app(migrated_url: str, tmp_path: Path) -> FastAPI:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=migrated_url,
        admin_token="test-admin-token",
        secret_key="test-secret-key",
        policy="observe",
    )
    return create_app(settings, database=Database(migrated_url), clock=FrozenClock(NOW))


@pytest.fixture
def api(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, headers={"user-agent": CHROME}) as client:
        yield client


def page_token(api: TestClient, path: str = "/") -> str:
    """The beacon token of a storefront page, as beacon.js reads it from its script tag."""
    page = api.get(path, headers={"accept": "text/html"})
    assert page.status_code == 200, page.text
    found = re.search(r'src="/static/beacon\.js" data-token="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def post_beacon(api: TestClient, body: dict[str, object]) -> None:
    response = api.post(
        "/api/v1/beacon", content=json.dumps(body), headers={"content-type": "text/plain"}
    )
    assert response.status_code == 204


def test_beacon_is_recorded_for_the_session(api: TestClient, app: FastAPI) -> None:
    token = page_token(api)
    cookie = api.cookies.get(SESSION_COOKIE)
    assert cookie
    post_beacon(
        api,
        {"pointer": 12, "keys": 3, "webdriver": False, "first_interaction_ms": 850, "token": token},
    )
    post_beacon(api, {"webdriver": True, "token": token})
    state = state_of(app).identity.state
    signals = state.get_session_signals(session_key(cookie, "testclient", CHROME))
    assert (signals.beacons, signals.pointer_events, signals.key_events) == (2, 12, 3)
    assert signals.webdriver_beacons == 1
    assert signals.first_interaction_ms == 850


def test_a_beacon_without_its_pages_token_is_ignored(api: TestClient, app: FastAPI) -> None:
    """A script cannot look human with a forged post: only a served page's token counts."""
    forged = {"pointer": 7, "keys": 3, "first_interaction_ms": 850}
    # Another visitor of the same app (no `with`: the app's lifespan belongs to `api`).
    someone_elses = page_token(TestClient(app, headers={"user-agent": CHROME}))
    token = page_token(api)
    cookie = api.cookies.get(SESSION_COOKIE)
    head, _, mac = token.rpartition(".")
    for bad in ("", "garbage", someone_elses, f"{head}.{'0' * len(mac)}"):
        post_beacon(api, {**forged, "token": bad})
    clock = state_of(app).clock
    assert isinstance(clock, FrozenClock)
    clock.advance(hours=7)  # older than a page's token lives
    post_beacon(api, {**forged, "token": token})
    key = session_key(cookie, "testclient", CHROME)
    assert state_of(app).identity.state.get_session_signals(key).beacons == 0
    post_beacon(api, {**forged, "token": page_token(api)})
    assert state_of(app).identity.state.get_session_signals(key).beacons == 1


def test_beacon_accepts_garbage_without_complaint(api: TestClient, app: FastAPI) -> None:
    # Sent as the page's script sends it (text/plain): a JSON body this deep would be refused
    # at the door (413, core/bounds.py) before any route.
    plain = {"content-type": "text/plain;charset=UTF-8"}
    for raw in (b"", b"nope", b"{" * 10_000):
        assert api.post("/api/v1/beacon", content=raw, headers=plain).status_code == 204
    key = session_key(None, "testclient", CHROME)
    assert state_of(app).identity.state.get_session_signals(key).beacons == 0


def test_beacon_script_reports_counts_and_webdriver() -> None:
    script = (STATIC_DIR / "beacon.js").read_text(encoding="utf-8")
    assert "/api/v1/beacon" in script
    assert "navigator.webdriver" in script
    assert "first_interaction_ms" in script
    assert "sendBeacon" in script
