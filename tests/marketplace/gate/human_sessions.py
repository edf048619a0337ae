"""Human-like browser sessions, generated from a seed, sent through the real app.

Each session is what a person's browser sends: page navigations with the `Sec-Fetch-*` headers
Chromium sends, the page's styles and scripts only when they are not cached (a warm cache fetches
none; some sessions revalidate them with `If-None-Match`), and the beacon at the moments
`beacon.js` sends it (300 ms after the first interaction, 2.5 s after load, or as the page is
left, which arrives after the next page's request). Kinds:

- `browse`: two to seven pages of the catalog, search and products, read for 1 to 20 s each;
- `fast-buyer`: the issue's flow, product page -> "Log in" -> log in -> "Add to cart" -> cart,
  all within about two seconds of the first page;
- `returning`: a logged-in shopper with a warm cache who goes straight to a product and buys.

The clock is a `FrozenClock` moved to each event's moment, so a run is deterministic and takes
no real time. `python -m tests.marketplace.gate.human_sessions` prints the figures.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient

from marketplace.core.clock import FrozenClock

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
SHOPPER_EMAIL = "student@personas.nile.test"
SHOPPER_PASSWORD = "persona-pass-1"
QUERIES = ("headphones", "tent", "coffee", "laptop", "running shoes", "blender")
_ASSET = re.compile(r'(?:href|src)="(/static/[^"]+)"')
_TOKEN = re.compile(r'src="/static/beacon\.js" data-token="([^"]+)"')
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_PRODUCT = re.compile(r'href="/products/(\d+)"')


@dataclass
class Figures:
    """What the sessions met at the gate."""

    sessions: int = 0
    requests: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    refused_sessions: list[str] = field(default_factory=list)
    suspected_requests: int = 0
    refusals: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sessions": self.sessions,
            "requests": self.requests,
            "by_kind": dict(self.by_kind),
            "sessions_challenged_or_refused": len(self.refused_sessions),
            "requests_classed_suspected_agent": self.suspected_requests,
            "refusals": self.refusals[:10],
        }


class Browser:
    """One person's browser: cookies, a cache, the pending beacon of the page on screen."""

    def __init__(
        self,
        client: TestClient,
        clock: FrozenClock,
        rng: random.Random,
        user_agent: str,
        figures: Figures,
    ) -> None:
        # One client for every session (each its own cookies and user agent): a client per
        # session would start an event loop, and a database reader, for each.
        client.cookies.clear()
        client.headers["user-agent"] = user_agent
        self.client = client
        self.clock = clock
        self.rng = rng
        self.figures = figures
        self.cached: set[str] = set()
        self.revalidates = False
        self.page = ""
        self.token = ""
        self.pending: dict[str, Any] | None = None  # the page's beacon, sent as it is left
        self.refused: list[dict[str, Any]] = []

    def wait(self, seconds: float) -> None:
        self.clock.advance(seconds=seconds)

    def _check(self, response: Any, path: str) -> None:
        self.figures.requests += 1
        if response.headers.get("x-visitor-class") == "suspected-agent":
            self.figures.suspected_requests += 1
        decision = response.headers.get("x-policy-decision", "allow")
        if decision != "allow":
            self.refused.append(
                {
                    "path": path,
                    "decision": decision,
                    "rule": response.headers.get("x-policy-rule"),
                }
            )

    def _send(self, method: str, path: str, site: str, **kwargs: Any) -> Any:
        headers = {
            "accept": "text/html,application/xhtml+xml,*/*;q=0.8",
            "sec-fetch-mode": "navigate",
            "sec-fetch-dest": "document",
            "sec-fetch-site": site,
            "sec-fetch-user": "?1",
        }
        response = self.client.request(
            method, path, headers=headers, follow_redirects=False, **kwargs
        )
        self._check(response, path)
        self._leave()  # the old page's pagehide beacon goes out once the new page commits
        while response.status_code in (302, 303) and not self.refused:
            location = response.headers["location"]
            response = self.client.get(location, headers={**headers, "sec-fetch-site": site})
            self._check(response, location)
            path = location
        self.page = response.text if response.status_code == 200 else ""
        found = _TOKEN.search(self.page)
        self.token = found.group(1) if found else ""
        self.pending = {"pointer": 0, "keys": 0, "first": None, "sent": False, "loaded": 0.0}
        self._assets()
        return response

    def _assets(self) -> None:
        for asset in dict.fromkeys(_ASSET.findall(self.page)):
            if asset in self.cached and not self.revalidates:
                continue  # from the memory or disk cache: no request at all
            headers = {"sec-fetch-mode": "no-cors", "sec-fetch-site": "same-origin"}
            if asset in self.cached:
                headers["if-none-match"] = '"cached"'
            self._check(self.client.get(asset, headers=headers), asset)
            self.cached.add(asset)

    def _beacon(self, final: bool) -> None:
        pending = self.pending
        if pending is None or not self.token:
            return
        if pending["sent"] and not (pending["pointer"] or pending["keys"]) and not final:
            return
        pending["sent"] = True
        body = {
            "pointer": pending["pointer"],
            "keys": pending["keys"],
            "webdriver": False,
            "first_interaction_ms": pending["first"],
            "token": self.token,
        }
        pending["pointer"] = pending["keys"] = 0
        response = self.client.post(
            "/api/v1/beacon",
            content=json.dumps(body),
            headers={"content-type": "text/plain;charset=UTF-8", "sec-fetch-mode": "no-cors"},
        )
        self._check(response, "/api/v1/beacon")

    def _leave(self) -> None:
        pending = self.pending
        if pending is not None and (pending["pointer"] or pending["keys"] or not pending["sent"]):
            self._beacon(final=True)
        self.pending = None

    def read(self, seconds: float, *, pointer: int = 0, keys: int = 0) -> None:
        """Stay on the page `seconds`, interacting from a moment into it; beacons as beacon.js."""
        pending = self.pending
        if pending is None:
            self.wait(seconds)
            return
        first_at = self.rng.uniform(0.15, max(0.2, min(1.5, seconds * 0.6)))
        first_at = min(first_at, seconds * 0.9)
        events: list[tuple[float, str]] = []
        if pointer or keys:
            events.append((first_at, "interact"))
            if first_at + 0.3 < seconds:
                events.append((first_at + 0.3, "send"))
        if seconds > 2.5:
            events.append((2.5, "final"))
        elapsed = 0.0
        for at, what in sorted(events):
            self.wait(at - elapsed)
            elapsed = at
            if what == "interact":
                pending["pointer"] += pointer
                pending["keys"] += keys
                pending["first"] = round(at * 1000)
            else:
                self._beacon(final=what == "final")
        self.wait(seconds - elapsed)

    def navigate(self, path: str, site: str = "same-origin") -> Any:
        return self._send("GET", path, site)

    def submit(self, path: str, data: dict[str, str]) -> Any:
        found = _CSRF.search(self.page)
        form = {**data, "csrf_token": found.group(1) if found else ""}
        return self._send("POST", path, "same-origin", data=form)

    def products(self) -> list[str]:
        return list(dict.fromkeys(_PRODUCT.findall(self.page)))


def _browse(b: Browser, rng: random.Random) -> None:
    b.navigate("/", site="none")
    b.read(rng.uniform(1, 8), pointer=rng.randint(5, 60))
    b.navigate(f"/search?q={rng.choice(QUERIES).replace(' ', '+')}")
    b.read(rng.uniform(1, 12), pointer=rng.randint(5, 80), keys=rng.randint(0, 12))
    for _ in range(rng.randint(0, 5)):
        found = b.products()
        if not found:
            break
        b.navigate(f"/products/{rng.choice(found[:10])}")
        b.read(rng.uniform(0.8, 20), pointer=rng.randint(1, 90))


def _fast_buyer(b: Browser, rng: random.Random, product: int) -> None:
    b.navigate(f"/products/{product}", site="cross-site")  # a link from elsewhere
    b.read(rng.uniform(0.35, 0.8), pointer=rng.randint(2, 20))
    b.navigate(f"/login?next=/products/{product}")
    b.read(rng.uniform(0.6, 1.2), pointer=rng.randint(1, 6), keys=rng.randint(8, 30))
    b.submit(
        "/login",
        {"email": SHOPPER_EMAIL, "password": SHOPPER_PASSWORD, "next": f"/products/{product}"},
    )
    b.read(rng.uniform(0.2, 0.6), pointer=rng.randint(1, 8))
    b.submit("/cart/items", {"product_id": str(product), "quantity": "1"})
    b.read(rng.uniform(0.5, 3), pointer=rng.randint(1, 10))
    b.navigate("/checkout")
    b.read(rng.uniform(0.5, 4), pointer=rng.randint(1, 10))


def _returning(b: Browser, rng: random.Random, product: int) -> None:
    # Logged in earlier in this browser, whose cache holds the store's assets.
    b.navigate("/login", site="none")
    b.read(rng.uniform(2, 6), pointer=rng.randint(2, 20), keys=rng.randint(10, 30))
    b.submit("/login", {"email": SHOPPER_EMAIL, "password": SHOPPER_PASSWORD, "next": "/"})
    b.read(rng.uniform(0.5, 3), pointer=rng.randint(1, 20))
    b.navigate(f"/products/{product}")
    b.read(rng.uniform(0.3, 2), pointer=rng.randint(1, 20))
    b.submit("/cart/items", {"product_id": str(product), "quantity": "1"})
    b.read(rng.uniform(0.3, 2), pointer=rng.randint(1, 10))


def run_sessions(
    client: TestClient,
    clock: FrozenClock,
    products: list[int],
    *,
    count: int = 200,
    seed: int = 18,
) -> Figures:
    """`count` sessions of mixed kinds through `client`; what the gate answered them."""
    rng = random.Random(seed)
    figures = Figures()
    for index in range(count):
        kind = rng.choices(("browse", "fast-buyer", "returning"), weights=(5, 3, 2))[0]
        # Each its own browser build, so sessions differ before their first cookie too.
        user_agent = CHROME.replace("131.0.0.0", f"131.0.{6700 + index}.{rng.randint(1, 200)}")
        browser = Browser(client, clock, random.Random(rng.random()), user_agent, figures)
        browser.revalidates = rng.random() < 0.2
        if kind != "browse" or rng.random() < 0.5:
            browser.cached.update({"/static/store.css", "/static/beacon.js"})  # a warm cache
        product = rng.choice(products)
        if kind == "browse":
            _browse(browser, browser.rng)
        elif kind == "fast-buyer":
            _fast_buyer(browser, browser.rng, product)
        else:
            _returning(browser, browser.rng, product)
        browser._leave()
        figures.sessions += 1
        figures.by_kind[kind] += 1
        if browser.refused:
            figures.refused_sessions.append(kind)
            figures.refusals.extend({"kind": kind, **r} for r in browser.refused)
        clock.advance(seconds=rng.uniform(1, 30))
    return figures


def main() -> None:  # pragma: no cover - the measurement, run by hand
    import tempfile
    from pathlib import Path

    from marketplace.app import create_app
    from marketplace.core.db import Database
    from marketplace.core.migrate import upgrade
    from marketplace.core.settings import Settings
    from tests.conftest import TEST_NOW, seed_database
    from tests.marketplace._shop import product_with_stock

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'humans.db'}"
        upgrade(url)
        database = Database(url)
        seed_database(database, now=TEST_NOW)
        clock = FrozenClock(TEST_NOW)
        settings = Settings(
            data_dir=Path(tmp) / "data",
            database_url=url,
            admin_token="bench-admin-token",
            secret_key="bench-secret-key",
            policy="closed",
        )
        app = create_app(settings, database=database, clock=clock)
        with TestClient(app) as client:
            products = [product_with_stock(database, 5, skip) for skip in range(20)]
            figures = run_sessions(client, clock, products, count=240)
        print(json.dumps(figures.as_dict(), indent=2))


if __name__ == "__main__":  # pragma: no cover
    main()
