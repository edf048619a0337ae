"""Evaluate Help Me Decide against each persona's hidden preferences (the ground truth).

Every seeded persona browses the store over HTTP like a person would (searches its stated query,
opens a few results that appeal to it), then asks Help Me Decide. The oracle ratio of a choice is
its utility for the persona divided by the utility of the persona's best in-stock product of the
category. Baselines choose from what anyone can see: the public catalog API and, for the outside
agent, the persona's stated query alone.

`data_advantage` traces Help Me Decide's ratio against how much of the shopper's history the
platform holds, beside the best baseline an outside agent could compute without any of it.
"""

from __future__ import annotations

import itertools
import math
import random
import re
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.accounts.service import hash_password, register
from marketplace.app import create_app
from marketplace.catalog.models import Category, Product
from marketplace.catalog.seed import seed_catalog
from marketplace.core.clock import FrozenClock
from marketplace.core.db import Database
from marketplace.core.migrate import upgrade
from marketplace.core.settings import Settings
from marketplace.decide import service as decide_service
from marketplace.decide.config import load_decide_config
from sandbox.liveserver import LiveServer
from sandbox.persona import Persona, Personas
from sandbox.seeding import seed_history, seed_personas
from sandbox.utility import ProductTraits, utility

# A fixed moment, so the same seed gives the same histories and the same report.
EVAL_NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
BROWSER_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
TARGET = 0.9
BASELINES = (
    "best_seller",
    "highest_rated",
    "cheapest",
    "random",
    "outside_top_result",
    "outside_best_rated",
)
BASELINE_LABELS = {
    "ours": "Help Me Decide",
    "best_seller": "Best-seller (most reviews)",
    "highest_rated": "Highest rated",
    "cheapest": "Cheapest",
    "random": "Random (seeded)",
    "outside_top_result": "Outside agent: top search result",
    "outside_best_rated": "Outside agent: best-rated search result",
}
# What an outside agent can compute from the public catalog and the stated query; "random" is a
# floor, not a strategy anyone would pick.
PUBLIC_BASELINES = (
    "outside_top_result",
    "outside_best_rated",
    "best_seller",
    "highest_rated",
    "cheapest",
)
HISTORY_LEVELS = (0, 1, 3, 10, 30)


@dataclass
class PersonaResult:
    persona: str
    name: str
    category: str
    stated_query: str
    viewed_in_session: list[int]
    best_utility: float
    best_product: int
    choices: dict[str, int | None]
    utilities: dict[str, float | None]
    ratios: dict[str, float | None]
    picks: dict[str, dict[str, Any] | None]
    valid: bool
    validity_problems: list[str]
    latency_ms: float


@dataclass
class EvalReport:
    command: str
    seed: int
    products: int
    personas: list[PersonaResult]
    means: dict[str, float]
    target: float = TARGET
    target_met: bool = False
    all_valid: bool = False
    latency_ms: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# --- what an outside agent can do with the stated query --------------------------------------

_PRICE = re.compile(r"(?:under|below|less than|at most|max|up to)\s*\$?\s*(\d+(?:\.\d+)?)")


def parse_stated_query(query: str) -> tuple[str, float | None]:
    """Split a stated query into search words and a price limit ("under 60" -> 60)."""
    found = _PRICE.search(query.lower())
    if not found:
        return query, None
    words = (query[: found.start()] + " " + query[found.end() :]).strip()
    return " ".join(words.split()), float(found.group(1))


# --- the run --------------------------------------------------------------------------------


class _Store:
    """The running platform: HTTP for everything a shopper or an agent could do."""

    def __init__(self, url: str) -> None:
        self.url = url

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"user-agent": BROWSER_UA}, timeout=60)

    def category_listing(self, client: httpx.Client, slug: str) -> list[dict[str, Any]]:
        """Every product of the category through the public list API."""
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            answer = client.get(
                "/api/v1/products",
                params={"category": slug, "page": page, "page_size": 100, "sort": "popularity"},
            )
            answer.raise_for_status()
            body = answer.json()
            items.extend(i for i in body["items"] if not i.get("sponsored"))
            if page * body["page_size"] >= body["total"] or not body["items"]:
                return items
            page += 1

    def search(
        self, client: httpx.Client, query: str, slug: str, max_price: float | None
    ) -> list[dict[str, Any]]:
        """Organic results for the query; like a persistent agent, it drops words until
        something matches (all words must match), and falls back to the category's list."""
        words = query.split()
        for size in range(len(words), 0, -1):
            for subset in itertools.combinations(words, size):
                items = self._organic(client, " ".join(subset), slug, max_price)
                if items:
                    return items
        return self._organic(client, None, slug, max_price)

    def _organic(
        self, client: httpx.Client, q: str | None, slug: str, max_price: float | None
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"category": slug, "page_size": 20}
        if q:
            params["q"] = q
        if max_price is not None:
            params["max_price"] = max_price
        answer = client.get("/api/v1/products", params=params)
        answer.raise_for_status()
        return [i for i in answer.json()["items"] if not i.get("sponsored")]


def _in_stock(items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [i for i in items if i.get("in_stock", (i.get("stock") or 0) > 0)]


def _bayes(item: dict[str, Any], mean: float, prior: float = 25.0) -> float:
    n = float(item["review_count"])
    return (prior * mean + n * float(item["rating"])) / (prior + n)


def _baseline_choices(
    store: _Store,
    client: httpx.Client,
    persona: Persona,
    slug: str,
    rng: random.Random,
) -> dict[str, int | None]:
    listing = _in_stock(store.category_listing(client, slug))
    choices: dict[str, int | None] = dict.fromkeys(BASELINES)
    if listing:
        choices["best_seller"] = max(listing, key=lambda i: (i["review_count"], -i["id"]))["id"]
        choices["highest_rated"] = max(
            listing, key=lambda i: (i["rating"], i["review_count"], -i["id"])
        )["id"]
        choices["cheapest"] = min(listing, key=lambda i: (i["price"], i["id"]))["id"]
        choices["random"] = rng.choice(sorted(i["id"] for i in listing))
    words, max_price = parse_stated_query(persona.query_for(slug))
    results = _in_stock(store.search(client, words, slug, max_price))
    if results:
        choices["outside_top_result"] = results[0]["id"]
        mean = statistics.fmean(i["rating"] for i in results)
        choices["outside_best_rated"] = max(results, key=lambda i: (_bayes(i, mean), -i["id"]))[
            "id"
        ]
    return choices


def _browse(
    store: _Store,
    client: httpx.Client,
    persona: Persona,
    slug: str,
    rng: random.Random,
    utilities: dict[int, float],
) -> list[int]:
    """A person's session: search the stated query, open the results that appeal most."""
    words, max_price = parse_stated_query(persona.query_for(slug))
    results = store.search(client, words, slug, max_price)
    # People click what looks good to them, with noise: a noisy utility over the visible results.
    noisy = sorted(
        results,
        key=lambda i: -(utilities.get(i["id"], -9.0) + rng.gauss(0.0, 0.12)),
    )
    opened = [i["id"] for i in noisy[:3]]
    for product_id in opened:
        client.get(f"/api/v1/products/{product_id}").raise_for_status()
    return opened


def _ratio(value: float | None, best: float) -> float | None:
    if value is None:
        return None
    return round(value / best, 4) if best > 0 else None


def _validity(
    body: dict[str, Any], slug: str, stock: dict[int, tuple[str, int]]
) -> tuple[bool, list[str]]:
    problems: list[str] = []
    picks = {r: body.get(r) for r in ("top_pick", "budget_pick", "premium_pick")}
    ids = [p["product"]["id"] for p in picks.values() if p]
    if len(ids) != len(set(ids)):
        problems.append("picks repeat a product")
    for role, pick in picks.items():
        if not pick:
            if not any(n.startswith(f"No {role.split('_')[0]} pick") for n in body["notes"]):
                problems.append(f"{role} is null without a note")
            continue
        category, units = stock.get(pick["product"]["id"], ("?", 0))
        if category != slug:
            problems.append(f"{role} is not in {slug}")
        if units <= 0:
            problems.append(f"{role} is out of stock")
        if not 2 <= len(pick["reasons"]) <= 4:
            problems.append(f"{role} has {len(pick['reasons'])} reasons")
    top = picks["top_pick"]["product"]["price"] if picks["top_pick"] else None
    budget, premium = picks["budget_pick"], picks["premium_pick"]
    if top is not None and budget and not budget["product"]["price"] < top:
        problems.append("budget pick is not cheaper than the top pick")
    if top is not None and premium and not premium["product"]["price"] > top:
        problems.append("premium pick is not dearer than the top pick")
    return not problems, problems


@contextmanager
def _platform(
    *, seed: int, products: int, personas: Personas | None, workdir: Path | None
) -> Iterator[tuple[Database, Settings]]:
    """A fresh store in a temporary folder: the seeded catalog, and `personas` if given."""
    with tempfile.TemporaryDirectory(prefix="hmd-eval-", dir=workdir) as tmp:
        url = f"sqlite:///{Path(tmp) / 'eval.db'}"
        upgrade(url)
        database = Database(url)
        try:
            seed_catalog(database, products=products, seed=seed, now=EVAL_NOW)
            if personas is not None:
                seed_personas(database, personas, seed=seed, now=EVAL_NOW)
            settings = Settings(
                data_dir=Path(tmp) / "data",
                database_url=url,
                policy="observe",
                seed=seed,
                catalog_size=products,
                llm="scripted",
            )
            yield database, settings
        finally:
            database.dispose()


def run_evaluation(
    *,
    personas: Personas,
    seed: int = 42,
    products: int = 2000,
    command: str = "sandbox eval help-me-decide",
    on_persona: Callable[[PersonaResult], None] | None = None,
    workdir: Path | None = None,
) -> EvalReport:
    """Seed a fresh store with `personas`, run each through it, and score the picks."""
    with _platform(seed=seed, products=products, personas=personas, workdir=workdir) as (
        database,
        settings,
    ):
        app = create_app(settings, database=database, clock=FrozenClock(EVAL_NOW))
        with LiveServer(app) as server:
            results = _run_personas(server.url, database, personas, seed, on_persona)
    means = {
        name: round(statistics.fmean(r.ratios[name] or 0.0 for r in results), 4)
        for name in ("ours", *BASELINES)
    }
    latencies = sorted(r.latency_ms for r in results)
    report = EvalReport(
        command=command,
        seed=seed,
        products=products,
        personas=results,
        means=means,
        all_valid=all(r.valid for r in results),
        latency_ms={
            "mean": round(statistics.fmean(latencies), 1),
            "max": round(latencies[-1], 1),
        },
    )
    report.target_met = means["ours"] >= TARGET and all(means["ours"] > means[b] for b in BASELINES)
    return report


def _ground_truth(
    session: Session, persona: Persona, slug: str
) -> tuple[dict[int, tuple[str, int]], dict[int, float]]:
    """The category's stock per product, and the persona's utility of each in-stock product."""
    rows = session.execute(
        select(Product, Category.slug)
        .join(Category, Category.id == Product.category_id)
        .where(Category.slug == slug)
    ).all()
    stock = {p.id: (s, int(p.stock)) for p, s in rows}
    utilities = {
        p.id: utility(persona.profile, ProductTraits.from_row(p, s)) for p, s in rows if p.stock > 0
    }
    return stock, utilities


def _run_personas(
    url: str,
    database: Database,
    personas: Personas,
    seed: int,
    on_persona: Callable[[PersonaResult], None] | None,
) -> list[PersonaResult]:
    store = _Store(url)
    results: list[PersonaResult] = []
    for persona in personas.members:
        slug = persona.main_category
        rng = random.Random(f"eval:{seed}:{persona.key}")
        with database.session() as session:
            stock, utilities = _ground_truth(session, persona, slug)
        best_id = max(utilities, key=lambda pid: (utilities[pid], -pid))
        best = utilities[best_id]
        with store.client() as client:
            login = client.post(
                "/api/v1/sessions", json={"email": persona.email, "password": persona.password}
            )
            login.raise_for_status()
            client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
            opened = _browse(store, client, persona, slug, rng, utilities)
            started = time.perf_counter()
            answer = client.post("/api/v1/help-me-decide", json={"category": slug})
            latency = (time.perf_counter() - started) * 1000
            answer.raise_for_status()
            body = answer.json()
            # The baselines see the public catalog only, as an anonymous visitor would.
            with store.client() as public:
                choices = _baseline_choices(store, public, persona, slug, rng)
        choices = {"ours": body["top_pick"]["product"]["id"], **choices}
        utils = {k: (utilities.get(v) if v is not None else None) for k, v in choices.items()}
        valid, problems = _validity(body, slug, stock)
        result = PersonaResult(
            persona=persona.key,
            name=persona.name,
            category=slug,
            stated_query=persona.query_for(slug),
            viewed_in_session=opened,
            best_utility=round(best, 4),
            best_product=best_id,
            choices=choices,
            utilities={k: (round(v, 4) if v is not None else None) for k, v in utils.items()},
            ratios={k: _ratio(v, best) for k, v in utils.items()},
            picks={
                role: (
                    {
                        "id": body[role]["product"]["id"],
                        "title": body[role]["product"]["title"],
                        "price": body[role]["product"]["price"],
                        "utility": utilities.get(body[role]["product"]["id"]),
                    }
                    if body[role]
                    else None
                )
                for role in ("top_pick", "budget_pick", "premium_pick")
            },
            valid=valid,
            validity_problems=problems,
            latency_ms=round(latency, 1),
        )
        results.append(result)
        if on_persona:
            on_persona(result)
    return results


def fmt_ratio(value: float | None) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.3f}"


# --- the data advantage: Help Me Decide's ratio against the history it holds -------------------

_BOOTSTRAP_RESAMPLES = 2000
# The history's owner: a new account, not the persona's seeded one with its long history.
_CURVE_EMAIL = "{key}.curve@personas.nile.test"


@dataclass(frozen=True)
class DataAdvantage:
    """Help Me Decide's mean oracle ratio per amount of history, and the best outside baseline."""

    seed: int
    products: int
    levels: list[int]
    help_me_decide: list[float]
    low: list[float]
    high: list[float]
    per_persona: dict[str, list[float]]
    choices: dict[str, list[int]]
    baseline_name: str
    baseline_label: str
    baseline_ratio: float
    baselines: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        return {
            "levels": list(self.levels),
            "help_me_decide": list(self.help_me_decide),
            "low": list(self.low),
            "high": list(self.high),
            "baseline": {
                "name": self.baseline_name,
                "label": self.baseline_label,
                "ratio": self.baseline_ratio,
            },
            "seed": self.seed,
            "products": self.products,
        }


def data_advantage(
    *,
    personas: Personas,
    seed: int,
    products: int,
    levels: Sequence[int] = HISTORY_LEVELS,
    workdir: Path | None = None,
) -> DataAdvantage:
    """Help Me Decide's mean oracle ratio over `personas` per number of history events, and the
    best baseline."""
    # One store with the catalog of `seed` and no personas, whose histories would reach Help Me
    # Decide through co-views. Per persona and level, a new account holds exactly that many of
    # the persona's searches and views and is rolled back after the pick, so every level sees
    # the same store and nothing but the history changes.
    if not levels or any(k < 0 for k in levels):
        raise ValueError(f"levels must be one or more counts of 0 or more, not {list(levels)}")
    levels = list(levels)
    ratios: dict[str, list[float]] = {}
    choices: dict[str, list[int]] = {}
    public: dict[str, list[float]] = {name: [] for name in PUBLIC_BASELINES}
    with _platform(seed=seed, products=products, personas=None, workdir=workdir) as (
        database,
        settings,
    ):
        truths: dict[str, tuple[dict[int, float], float]] = {}
        for persona in personas.members:
            with database.session() as session:
                _, utilities = _ground_truth(session, persona, persona.main_category)
            best = max(utilities.values())
            truths[persona.key] = utilities, best
            picks = [_pick_with_history(database, persona, k, seed=seed) for k in levels]
            choices[persona.key] = picks
            ratios[persona.key] = [_floored(utilities.get(p), best) for p in picks]
        # The baselines come last, so the store Help Me Decide saw was the catalog alone.
        app = create_app(settings, database=database, clock=FrozenClock(EVAL_NOW))
        with LiveServer(app) as server:
            store = _Store(server.url)
            for persona in personas.members:
                utilities, best = truths[persona.key]
                rng = random.Random(f"eval:{seed}:{persona.key}")
                # An anonymous visitor per persona, as in the evaluation.
                with store.client() as public_client:
                    found = _baseline_choices(
                        store, public_client, persona, persona.main_category, rng
                    )
                for name in PUBLIC_BASELINES:
                    pid = found[name]
                    value = utilities.get(pid) if pid is not None else None
                    public[name].append(_floored(value, best))
    means = {name: round(statistics.fmean(values), 4) for name, values in public.items()}
    # Ties go to the first listed, the outside agent's own strategies.
    baseline = max(PUBLIC_BASELINES, key=lambda name: (means[name], -PUBLIC_BASELINES.index(name)))
    curve, low, high = [], [], []
    for index, level in enumerate(levels):
        values = [ratios[p.key][index] for p in personas.members]
        lo, hi = _bootstrap(values, random.Random(f"data-advantage:{seed}:{level}"))
        curve.append(round(statistics.fmean(values), 4))
        low.append(round(lo, 4))
        high.append(round(hi, 4))
    return DataAdvantage(
        seed=seed,
        products=products,
        levels=levels,
        help_me_decide=curve,
        low=low,
        high=high,
        per_persona=ratios,
        choices=choices,
        baseline_name=baseline,
        baseline_label=BASELINE_LABELS[baseline],
        baseline_ratio=means[baseline],
        baselines=means,
    )


def _pick_with_history(database: Database, persona: Persona, events: int, *, seed: int) -> int:
    """Help Me Decide's top pick for a new account holding `events` of the persona's history."""
    session = database.sessionmaker()
    try:
        account = register(
            session,
            email=_CURVE_EMAIL.format(key=persona.key),
            password_hash=hash_password(persona.password),
            name=persona.name,
            now=EVAL_NOW - timedelta(days=365),
        )
        session.flush()
        seed_history(session, persona, account.id, events=events, seed=seed, now=EVAL_NOW)
        session.flush()
        # The service, as the assistant calls it: the HTTP endpoint refuses a shopper with
        # fewer than the trigger's views, so the low levels could not be asked at all.
        decision = decide_service.decide(
            session,
            account_id=account.id,
            session_key=None,
            now=EVAL_NOW,
            category=persona.main_category,
            require_views=False,
            config=load_decide_config(),
        )
        return decision.top_pick.product.id
    finally:
        # Nothing is kept: the next level starts from the same store.
        database.end_session(session, commit=False)


def _floored(value: float | None, best: float) -> float:
    """The oracle ratio, 0 when it is below 0 or undefined."""
    # Utility has no natural zero: a pick a persona values below it would give a ratio many
    # times the persona's 0..1 range, and one persona would outweigh all the others.
    return max(0.0, _ratio(value, best) or 0.0)


def _bootstrap(values: Sequence[float], rng: random.Random) -> tuple[float, float]:
    """A 95% percentile bootstrap interval of the mean of `values`."""
    means = sorted(
        statistics.fmean(rng.choices(values, k=len(values))) for _ in range(_BOOTSTRAP_RESAMPLES)
    )
    last = _BOOTSTRAP_RESAMPLES - 1
    return means[round(0.025 * last)], means[round(0.975 * last)]
