"""Run a scenario: start (or reach) a platform, let the population loose, gather the figures."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import httpx
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from marketplace.core.settings import Settings, get_settings
from marketplace.gate.identity.keys import (
    DIRECTORY_PATH,
    load_or_create_platform_key,
    platform_keyid,
)
from sandbox.actors.base import ActorResult
from sandbox.actors.outside import AgentPlan, run_outside_agent
from sandbox.figures import BY_DESIGN, figures_for
from sandbox.intervals import summarise
from sandbox.journeys import (
    Journey,
    Prepared,
    Runtime,
    plan_journeys,
    prepare_journey,
    run_journey,
)
from sandbox.metrics import build_metrics
from sandbox.persona import Persona, Personas
from sandbox.scenario import SHOPPING_AGENTS, SIGNED_AGENTS, Scenario
from sandbox.utility import ProductTraits, utility
from shopbots.loops import run_in_own_loop

T = TypeVar("T")


@dataclass(frozen=True)
class Target:
    """The platform a run talks to.

    `database_url` (the catalog the harness judges purchases by) and `key_file` (the platform's
    own agent's key) are known for a platform started here, or for a running one whose data
    folder this machine shares. `run_tag` gives the shoppers new accounts in a store that may
    have served a run with the same seed before.
    """

    url: str
    admin_token: str
    database_url: str | None = None
    key_file: Path | None = None
    run_tag: str = ""


def load_catalog(database_url: str) -> dict[int, ProductTraits]:
    """Every in-stock product's facts: what the harness (not the platform) judges purchases by."""
    from sqlalchemy import select

    from marketplace.catalog.models import Category, Product
    from marketplace.core.db import Database

    database = Database(database_url, pool_size=1)
    try:
        with database.session() as session:
            rows = session.execute(
                select(Product, Category.slug)
                .join(Category, Category.id == Product.category_id)
                .where(Product.stock > 0)
            ).all()
            return {p.id: ProductTraits.from_row(p, slug) for p, slug in rows}
    finally:
        database.dispose()


@contextmanager
def local_target(
    scenario: Scenario, personas: Personas, workdir: Path | None = None
) -> Iterator[Target]:
    """A fresh platform for this scenario, seeded from its seed, on a free loopback port."""
    from marketplace.decide.config import DecideConfig
    from sandbox.testing import running_platform

    admin_token = f"run-{scenario.name}-{os.getpid()}"
    decide = DecideConfig()
    decide = decide.model_copy(
        update={
            "weights": decide.weights.model_copy(
                update={"house_brand_boost": scenario.house_brand_boost}
            )
        }
    )
    with running_platform(
        scenario.policy,
        products=scenario.catalog.products,
        seed=scenario.seed,
        admin_token=admin_token,
        workdir=workdir,
        decide_config=decide,
        personas=personas,
    ) as platform:
        yield Target(
            url=platform.url,
            admin_token=admin_token,
            database_url=platform.database_url,
            key_file=platform.data_dir / "platform-signing-key.pem",
        )


def remote_target(url: str, admin_token: str, settings: Settings) -> Target:
    """A running store. When this machine's settings point at the store's data folder (the
    platform's key there is the one the store publishes), its key and catalog are used too."""
    url = url.rstrip("/")
    run_tag = format(time.time_ns() // 1_000_000, "x")
    key_file = settings.resolved_signing_key_file
    if not key_file.is_file() or not _publishes(url, key_file):
        return Target(url=url, admin_token=admin_token, run_tag=run_tag)
    return Target(
        url=url,
        admin_token=admin_token,
        database_url=settings.resolved_database_url,
        key_file=key_file,
        run_tag=run_tag,
    )


def _publishes(url: str, key_file: Path) -> bool:
    """Whether the store at `url` publishes the public key of `key_file` in its key directory."""
    keyid = platform_keyid(load_or_create_platform_key(key_file))
    try:
        response = httpx.get(f"{url}{DIRECTORY_PATH}", timeout=10)
        keys = response.json().get("keys", []) if response.status_code == 200 else []
    except (httpx.HTTPError, ValueError, AttributeError):
        return False
    return any(isinstance(k, dict) and k.get("kid") == keyid for k in keys)


def _favourite(who: Persona, catalog: Mapping[int, ProductTraits], taken: set[int]) -> int | None:
    options = [f for f in catalog.values() if f.category == who.main_category and f.id not in taken]
    if not options:
        return None
    return max(options, key=lambda f: (utility(who.profile, f), -f.id)).id


@dataclass(frozen=True)
class Population:
    """A run's actors: the shoppers' journeys, and everyone else (crawlers, lone agents)."""

    journeys: list[Callable[[], Prepared]]
    others: list[Callable[[], ActorResult]]


def plan_population(
    scenario: Scenario,
    target: Target,
    catalog: Mapping[int, ProductTraits],
    personas: Personas,
) -> Population:
    """One callable per journey and per other actor, fixed from the scenario and its seed."""
    chromium = os.environ.get("SANDBOX_CHROMIUM") or shutil.which("chromium")
    runtime = Runtime(
        url=target.url,
        admin_token=target.admin_token,
        catalog=catalog,
        scenario=scenario,
        key_file=target.key_file,
        chromium=chromium,
        run_tag=target.run_tag,
    )
    journeys: list[Callable[[], Prepared]] = [
        partial(prepare_journey, plan, runtime) for plan in plan_journeys(scenario, personas)
    ]
    others: list[Callable[[], ActorResult]] = []
    taken: set[int] = set()
    counters: dict[str, int] = {}
    for spec in scenario.population.agents:
        for _ in range(spec.count):
            index = counters.get(spec.name, 0)
            counters[spec.name] = index + 1
            cast = personas.members
            who = cast[(len(journeys) + len(others) + index) % len(cast)]
            product: str | None = None
            shops = spec.name in SHOPPING_AGENTS
            if shops:
                # An agent on its own account, not a shopper's delegate: it is handed the
                # persona's favourite, so only the gate stands between it and an order.
                favourite = _favourite(who, catalog, taken)
                if favourite is not None:
                    taken.add(favourite)
                product = str(favourite) if favourite else who.query_for(who.main_category)
            agent_plan = AgentPlan(
                name=spec.name,
                index=index,
                seed=scenario.seed,
                pages=spec.pages,
                stealth=spec.stealth,
                email=who.email if shops else None,
                password=who.password if shops else None,
                product=product,
                admin_token=target.admin_token if spec.name in SIGNED_AGENTS else None,
                chromium=chromium,
            )
            others.append(partial(run_outside_agent, target.url, agent_plan))
    return Population(journeys=journeys, others=others)


def _timed(job: Callable[[], ActorResult]) -> ActorResult:
    started = time.monotonic()
    result = job()
    result.seconds = time.monotonic() - started
    return result


async def _run_jobs(jobs: list[Callable[[], T]], progress: Progress | None) -> list[T]:
    loop = asyncio.get_running_loop()
    task_id = progress.add_task("visitors", total=len(jobs)) if progress else None
    # One thread per actor: they are I/O-bound and each keeps its own pace like a real visitor.
    with ThreadPoolExecutor(max_workers=max(1, len(jobs)), thread_name_prefix="actor") as pool:
        futures = [loop.run_in_executor(pool, job) for job in jobs]
        for future in asyncio.as_completed(futures):
            await future
            if progress is not None and task_id is not None:
                progress.advance(task_id)
        return [f.result() for f in futures]


def _run_population(jobs: list[Callable[[], T]], progress: Progress | None) -> list[T]:
    """Run the actors on an event loop of their own thread, so a caller that already runs one
    (a notebook, Playwright's sync API) can start a scenario too."""
    return run_in_own_loop(partial(_run_jobs, jobs, progress))


def fetch_platform_stats(target: Target, since: datetime) -> dict[str, Any]:
    """The platform's own figures for the run (the admin stats endpoint)."""
    response = httpx.get(
        f"{target.url}/api/v1/admin/stats",
        params={"since": since.isoformat(), "by_account": "true"},
        headers={"authorization": f"Bearer {target.admin_token}"},
        timeout=60,
    )
    response.raise_for_status()
    stats: dict[str, Any] = response.json()
    return stats


KeepGoing = Callable[[int, float], bool]


def run_against(
    scenario: Scenario,
    target: Target,
    personas: Personas,
    *,
    show_progress: bool = True,
    keep_going: KeepGoing | None = None,
) -> dict[str, Any]:
    """Run `scenario`'s population, drawn from `personas`, against `target`; its metrics.

    With `keep_going`, the population comes back in waves (each wave's shoppers with accounts of
    their own) for as long as `keep_going(waves done, seconds since the start)` says so: a
    teacher can switch the policy during the run and the report shows the figures under each.
    """
    catalog = load_catalog(target.database_url) if target.database_url else {}
    journeys: list[Journey] = []
    others: list[ActorResult] = []
    started: datetime | None = None
    clock = time.monotonic()
    wave = 0
    while True:
        tag = f"{target.run_tag}w{wave}" if wave else target.run_tag
        wave_scenario = (
            scenario.model_copy(update={"seed": scenario.seed + wave}) if wave else scenario
        )
        population = plan_population(wave_scenario, replace(target, run_tag=tag), catalog, personas)
        # The shoppers open their accounts first, outside the run's window: they were customers
        # before the journeys began, whatever channel they then choose.
        prepared = _run_population(population.journeys, None)
        jobs: list[Callable[[], Journey | ActorResult]] = [
            *(partial(run_journey, p) for p in prepared),
            *(partial(_timed, job) for job in population.others),
        ]
        if started is None:
            started = datetime.now(UTC)
            clock = time.monotonic()
        name = scenario.name if keep_going is None else f"{scenario.name} wave {wave + 1}"
        results = _run_wave(jobs, name, show_progress)
        journeys.extend(r for r in results if isinstance(r, Journey))
        others.extend(r for r in results if isinstance(r, ActorResult))
        wave += 1
        if keep_going is None or not keep_going(wave, time.monotonic() - clock):
            break
    assert started is not None
    stats = fetch_platform_stats(target, started)
    metrics = build_metrics(
        scenario, stats, journeys, others, catalog, personas, seconds=time.monotonic() - clock
    )
    metrics["waves"] = wave
    return metrics


def _run_wave(
    jobs: list[Callable[[], Journey | ActorResult]], name: str, show_progress: bool
) -> list[Journey | ActorResult]:
    if not show_progress:
        return _run_population(jobs, None)
    progress = Progress(
        TextColumn(f"[bold]{name}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
    )
    with progress:
        return _run_population(jobs, progress)


def run_scenario(
    scenario: Scenario,
    *,
    personas: Personas,
    target_url: str | None = None,
    admin_token: str | None = None,
    workdir: Path | None = None,
    show_progress: bool = True,
    keep_going: KeepGoing | None = None,
) -> dict[str, Any]:
    """Run `scenario` on a platform of its own, or against a running one at `target_url`.

    `personas` are the shoppers the population is drawn from; a platform of its own is seeded
    with their accounts, a running one must have them already.
    """
    if target_url:
        token = admin_token or os.environ.get("SANDBOX_ADMIN_TOKEN", "")
        target = remote_target(target_url, token, get_settings())
        return run_against(
            scenario, target, personas, show_progress=show_progress, keep_going=keep_going
        )
    with local_target(scenario, personas, workdir) as target:
        return run_against(
            scenario, target, personas, show_progress=show_progress, keep_going=keep_going
        )


def seeds_for(scenario: Scenario, count: int) -> list[int]:
    """The seeds of `count` independent runs of `scenario`, starting at its own."""
    return [scenario.seed + offset for offset in range(count)]


def scenario_result(
    scenario: Scenario, runs: Sequence[Mapping[str, Any]], *, live: bool = False
) -> dict[str, Any]:
    """One scenario's runs (one per seed) and the summary of their figures with intervals.

    `live`: the runs went to a running store, whose policy is whatever it was switched to, so
    the result names the policies the decisions were made under rather than the scenario's."""
    rows_per_run = [list(run["journeys"]) for run in runs]
    figures = figures_for([row for rows in rows_per_run for row in rows])
    return {
        "name": scenario.name,
        "title": scenario.title,
        "description": scenario.description,
        "policy": (policies_in_force(runs) if live else "") or scenario.policy,
        "delegation_share": scenario.delegation.share,
        "seeds": [run["scenario"]["seed"] for run in runs],
        "runs": list(runs),
        "summary": summarise(rows_per_run, figures, fixed=BY_DESIGN, seed=scenario.seed),
    }


def policies_in_force(runs: Sequence[Mapping[str, Any]]) -> str:
    """The policies the runs' decisions were made under, in order ("observe, then closed"); empty
    when the platform reported none."""
    names: list[str] = []
    for run in runs:
        for span in run.get("policies") or []:
            name = str(span.get("policy") or "")
            if name and (not names or names[-1] != name):
                names.append(name)
    return ", then ".join(names)


def run_seeds(
    scenario: Scenario,
    seeds: Sequence[int],
    *,
    personas: Personas,
    target_url: str | None = None,
    admin_token: str | None = None,
    show_progress: bool = True,
    keep_going: KeepGoing | None = None,
) -> dict[str, Any]:
    """Run `scenario` once per seed (each on a fresh platform unless `target_url`) and sum up."""
    runs = [
        run_scenario(
            scenario.model_copy(update={"seed": seed}),
            personas=personas,
            target_url=target_url,
            admin_token=admin_token,
            show_progress=show_progress,
            keep_going=keep_going,
        )
        for seed in seeds
    ]
    return scenario_result(scenario, runs, live=bool(target_url))
