"""Behaviour signals for visitors that pose as browsers, and the bot score they add up to.

Each request updates its session's signals (pages, asset loads, views, first checkout); the
storefront's beacon (`/static/beacon.js` → `POST /api/v1/beacon`) adds pointer and key counts,
`navigator.webdriver` and the time to the first interaction. The score runs from 1 (automated) to
99 (human) in the manner of commercial bot managers; each deduction comes with a reason that the
decision log records. A beacon counts only with the token of a page served to its session
(`beacon_token.py`). A visitor the gate has barely seen scores in the human band: one page is not
evidence, and refusing first visits would punish every new shopper.

Sessions are keyed by a hash of the session cookie (never the cookie itself, which is a login
token), or by client IP and user agent before the first cookie is set. When the store gives a
session a new cookie (logging in), what the old one did is carried over (`carry`): a person who
looks at a product, logs in and adds it to the cart within two seconds is one visitor throughout.

A browser that has the store's styles and scripts in its cache fetches none of them, so the asset
check also takes a conditional request (`If-None-Match`, `If-Modified-Since`), a navigation from
one of the store's own pages (`Sec-Fetch-Mode: navigate`, `Sec-Fetch-Site: same-origin`) and the
beacon (the page's script ran) as signs that pages are rendered. A challenged person gets a page
whose script proves a browser ran it (`challenge.py`); a passed challenge scores as a person.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from marketplace.core.shared.session_signals import SessionSignals
from marketplace.core.shared.state import SharedState
from marketplace.gate.facts import RequestFacts
from marketplace.gate.identity.beacon_token import MAX_TOKEN_LENGTH, BeaconTokens
from marketplace.gate.identity.challenge import CHALLENGE_PATH, parse_answer, proof_holds
from marketplace.gate.identity.posted import parse_posted

BEACON_PATH = "/api/v1/beacon"
BEACON_PATHS = (BEACON_PATH, CHALLENGE_PATH)
MAX_BEACON_BYTES = 2048

# Route classes whose GETs count as a product or catalog view.
VIEW_ROUTES = frozenset({"catalog", "search", "product"})
PAGE_ROUTES = frozenset(
    {"catalog", "search", "product", "account", "cart", "checkout", "assistant", "other"}
)
ORDER_ROUTES = frozenset({"cart", "checkout"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# The evidence thresholds; each is a judgement documented next to its deduction.
NEUTRAL_SCORE = 60  # too little evidence either way: inside the human band
HUMAN_SCORE = 95
MIN_PAGES_FOR_ASSET_CHECK = 2  # a browser has fetched CSS/JS by its second page
MIN_PAGES_FOR_BEACON_CHECK = 3  # the beacon posts ~2.5 s after load; give it a page or two
FASTEST_HUMAN_INTERACTION_MS = 80.0  # a person needs longer than this to move after a paint
FASTEST_HUMAN_CHECKOUT_S = 5.0  # first page to cart/checkout: people read before they buy
RATE_WINDOW_S = 10
RATE_HUMAN_MAX = 30  # requests per 10 s (assets excluded) a fast-clicking person stays under


class Bands(Protocol):
    """The policy's bot-score thresholds (`policy.bot_score`)."""

    def band(self, score: int) -> str: ...


@dataclass(frozen=True)
class BotScore:
    """A score from 1 (automated) to 99 (human), its band, and why."""

    score: int
    band: str
    reasons: tuple[str, ...]
    signals: SessionSignals

    def as_dict(self) -> dict[str, Any]:
        return {"score": self.score, "band": self.band, "reasons": list(self.reasons)}


def session_key(session_id: str | None, client_ip: str | None, user_agent: str) -> str:
    """The key behaviour is recorded under: the session cookie's hash, or IP + user agent."""
    if session_id:
        return "s:" + hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()[:40]
    raw = f"{client_ip or '-'}|{user_agent}"
    return "a:" + hashlib.sha256(raw.encode("utf-8", "replace")).hexdigest()[:40]


def facts_session_key(facts: RequestFacts) -> str:
    return session_key(facts.session_id, facts.client_ip, facts.user_agent)


CONDITIONAL_HEADERS = ("if-none-match", "if-modified-since")


def cache_hint(facts: RequestFacts) -> bool:
    """Whether a page request shows a browser that keeps (or just rendered) the store's assets:
    a conditional request, or a navigation from one of the store's own pages."""
    if any(facts.header(name) for name in CONDITIONAL_HEADERS):
        return True
    return (facts.header("sec-fetch-mode") or "").lower() == "navigate" and (
        facts.header("sec-fetch-site") or ""
    ).lower() == "same-origin"


def request_delta(facts: RequestFacts, now: float) -> SessionSignals:
    """What this one request adds to its session's signals."""
    method = "GET" if facts.method == "HEAD" else facts.method
    is_api = facts.path.startswith("/api/")
    is_asset = facts.is_asset or facts.route_class == "assets"
    is_beacon = facts.path in BEACON_PATHS
    is_page = method == "GET" and not is_api and not is_asset and facts.route_class in PAGE_ROUTES
    is_view = method == "GET" and facts.route_class in VIEW_ROUTES
    ordering = facts.route_class in ORDER_ROUTES and method in WRITE_METHODS
    return SessionSignals(
        first_seen=now,
        last_seen=now,
        requests=0 if (is_asset or is_beacon) else 1,
        pages=1 if is_page else 0,
        # A page served from a browser's cache leaves no asset request: its hints count instead.
        assets=1 if (is_asset and not is_beacon) or (is_page and cache_hint(facts)) else 0,
        views=1 if is_view else 0,
        first_checkout=now if ordering else None,
    )


class BeaconBody(BaseModel):
    """What `beacon.js` posts: counts since its last post, and the browser's own claims."""

    model_config = ConfigDict(extra="ignore")

    pointer: int = Field(default=0, ge=0, le=100_000)
    keys: int = Field(default=0, ge=0, le=100_000)
    webdriver: bool = False
    first_interaction_ms: float | None = Field(default=None, ge=0, le=86_400_000)
    token: str = Field(default="", max_length=MAX_TOKEN_LENGTH)  # the page's, see beacon_token


def parse_beacon(raw: bytes) -> BeaconBody | None:
    """The beacon's body, or None when it is not one (sendBeacon posts text/plain JSON)."""
    return parse_posted(raw, BeaconBody, MAX_BEACON_BYTES)


def beacon_delta(body: BeaconBody, now: float) -> SessionSignals:
    first = body.first_interaction_ms
    if first is not None and not math.isfinite(first):
        first = None
    return SessionSignals(
        first_seen=now,
        last_seen=now,
        beacons=1,
        webdriver_beacons=1 if body.webdriver else 0,
        pointer_events=body.pointer,
        key_events=body.keys,
        first_interaction_ms=first,
    )


def compute_score(
    signals: SessionSignals,
    *,
    facts: RequestFacts | None,
    browser_ua: bool,
    recent_requests: int = 0,
) -> tuple[int, tuple[str, ...]]:
    """The bot score (1..99) from a session's signals, with a reason per deduction."""
    if signals.webdriver_beacons:
        return 1, ("the page's beacon reported navigator.webdriver = true (an automated browser)",)
    reasons: list[str] = []
    if signals.challenges_passed:
        # The challenge page's script ran in a browser that did not admit to automation: the
        # rendering checks below are answered. Only the pace still counts.
        score = HUMAN_SCORE
        if recent_requests > RATE_HUMAN_MAX:
            score -= 30
            reasons.append(
                f"{recent_requests} requests in {RATE_WINDOW_S} s (people stay under "
                f"{RATE_HUMAN_MAX})"
            )
        return score, tuple(reasons)
    evidence = signals.pages + signals.beacons + signals.views
    interacted = bool(signals.beacons and signals.pointer_events + signals.key_events)
    score = HUMAN_SCORE if interacted else 0
    if not score:
        score = NEUTRAL_SCORE if evidence < MIN_PAGES_FOR_ASSET_CHECK else 80
    if (
        browser_ua
        and signals.pages >= MIN_PAGES_FOR_ASSET_CHECK
        and signals.assets == 0
        and signals.beacons == 0
    ):
        score -= 45
        reasons.append(
            f"{signals.pages} pages fetched without loading their styles or scripts "
            "(and no sign of a browser cache)"
        )
    if browser_ua and signals.pages >= MIN_PAGES_FOR_BEACON_CHECK and signals.beacons == 0:
        score -= 30
        reasons.append(f"{signals.pages} pages fetched but none ran the interaction beacon")
    if signals.beacons >= 2 and signals.pointer_events + signals.key_events == 0:
        score -= 25
        reasons.append(f"{signals.beacons} beacons with no pointer or key events")
    if (
        signals.first_interaction_ms is not None
        and signals.first_interaction_ms < FASTEST_HUMAN_INTERACTION_MS
    ):
        score -= 25
        reasons.append(
            f"first interaction {signals.first_interaction_ms:.0f} ms after load "
            f"(people need at least {FASTEST_HUMAN_INTERACTION_MS:.0f} ms)"
        )
    if (
        not interacted
        and signals.first_checkout is not None
        and signals.first_seen is not None
        and signals.first_checkout - signals.first_seen < FASTEST_HUMAN_CHECKOUT_S
        and signals.pages + signals.views > 0
    ):
        seconds = signals.first_checkout - signals.first_seen
        score -= 55
        reasons.append(f"cart or checkout {seconds:.1f} s after the first page")
    if (
        facts is not None
        and browser_ua
        and facts.route_class in ORDER_ROUTES
        and facts.method in WRITE_METHODS
        and facts.path.startswith("/api/")
        and signals.views == 0
        and signals.pages == 0
    ):
        score -= 50
        reasons.append("API checkout with a browser user agent and no product viewed before")
    if recent_requests > RATE_HUMAN_MAX:
        score -= 30
        reasons.append(
            f"{recent_requests} requests in {RATE_WINDOW_S} s (people stay under {RATE_HUMAN_MAX})"
        )
    return max(1, min(99, score)), tuple(reasons)


class BehaviourTracker:
    """Records every request's behaviour in the shared state and scores the session."""

    def __init__(
        self, state: SharedState, *, tokens: BeaconTokens, challenges: BeaconTokens | None = None
    ) -> None:
        self.state = state
        self.tokens = tokens
        # The app gives challenge pages tokens of their own purpose (layer.build_identity).
        self.challenges = challenges if challenges is not None else tokens

    def observe(self, facts: RequestFacts, *, now: float) -> tuple[str, SessionSignals]:
        """Record this request; returns the session key and its combined signals."""
        key = facts_session_key(facts)
        return key, self.state.update_session_signals(key, request_delta(facts, now))

    def signals_stale(self, facts: RequestFacts) -> bool:
        """True when scoring this request would first read its session from the shared store."""
        return self.state.session_signals_stale(facts_session_key(facts))

    def observe_and_score(
        self, facts: RequestFacts, *, now: float, bands: Bands, browser_ua: bool
    ) -> BotScore:
        """Record this request and score its session; `browser_ua`: the UA claims a browser."""
        key, signals = self.observe(facts, now=now)
        recent = 0
        if not (facts.is_asset or facts.route_class == "assets" or facts.path in BEACON_PATHS):
            recent = self.state.hit(f"rate:{key}", RATE_WINDOW_S)
        score, reasons = compute_score(
            signals, facts=facts, browser_ua=browser_ua, recent_requests=recent
        )
        return BotScore(score=score, band=bands.band(score), reasons=reasons, signals=signals)

    def beacon_token(
        self, session_id: str | None, client_ip: str | None, user_agent: str, now: float
    ) -> str:
        """The token a page served now to this session gives its beacon."""
        return self.tokens.issue(session_key(session_id, client_ip, user_agent), now)

    def record_beacon(
        self, session_id: str | None, client_ip: str | None, user_agent: str, raw: bytes, now: float
    ) -> bool:
        """Add a beacon's report to its session; False when it was not a beacon of a page this
        session was served (no body, or no valid token), which is then ignored."""
        body = parse_beacon(raw)
        if body is None:
            return False
        key = session_key(session_id, client_ip, user_agent)
        if not self.tokens.valid(body.token, key, now):
            return False
        self.state.add_session_signals(key, beacon_delta(body, now))
        return True

    def carry(self, old_key: str, new_key: str) -> None:
        """Add what the session `old_key` did to `new_key` (the store replaced its cookie)."""
        if old_key == new_key:
            return
        signals = self.state.get_session_signals(old_key)
        if signals.first_seen is not None:
            self.state.add_session_signals(new_key, signals)

    def challenge_token(self, facts: RequestFacts, now: float) -> str:
        """The token of a challenge page served now for this request's session."""
        return self.challenges.issue(facts_session_key(facts), now)

    def record_challenge(
        self, session_id: str | None, client_ip: str | None, user_agent: str, raw: bytes, now: float
    ) -> bool:
        """Record a challenge page's answer; True when it passed. An answer from a browser that
        reports `navigator.webdriver` is recorded as a webdriver beacon, never as a pass."""
        answer = parse_answer(raw)
        if answer is None:
            return False
        key = session_key(session_id, client_ip, user_agent)
        if not self.challenges.valid(answer.token, key, now):
            return False
        if not proof_holds(answer.token, answer.counter):
            return False
        if answer.webdriver:
            delta = SessionSignals(first_seen=now, last_seen=now, webdriver_beacons=1)
            self.state.add_session_signals(key, delta)
            return False
        delta = SessionSignals(first_seen=now, last_seen=now, challenges_passed=1)
        self.state.add_session_signals(key, delta)
        return True

    def flag(self, facts: RequestFacts) -> None:
        """Mark one of the session's requests as scored automated (for escalation and reports)."""
        self.state.add_session_signals(facts_session_key(facts), SessionSignals(flagged=1))
