"""Shopping journeys: each shopper comes with a need and a channel, and ends somewhere.

A journey is one shopper's attempt to meet one need (a category, a budget and the persona's
hidden preferences) through one channel:

- `browse`: the shopper browses the store's pages (and may ask Help Me Decide there);
- `assistant`: the shopper asks the platform's own agent, which reads the private history;
- an outside agent's name (`signed-partner`, `declared-shopper`, `disguised-browser`): the shopper
  hands the stated need to that agent, which logs in as them and shops with public data only.

When the gate refuses a delegated journey the shopper comes to the store and shops there
(`fallback.to_store`) or buys elsewhere, a sale the platform lost. Who delegates, to which agent,
and who falls back are drawn up front from the seed, so two scenarios with the same population
and delegation share differ only in their policy.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from sandbox.actors.base import ActorResult
from sandbox.actors.firstparty import FirstPartyPlan, run_first_party_session
from sandbox.actors.humans import Need, ShopperPlan, SimulatedShopper
from sandbox.actors.outside import AgentPlan, run_outside_agent
from sandbox.persona import Persona, Personas
from sandbox.scenario import SIGNED_AGENTS, Scenario
from sandbox.utility import ProductTraits

BROWSE = "browse"
ASSISTANT = "assistant"
ELSEWHERE = "elsewhere"


@dataclass(frozen=True)
class JourneyPlan:
    """One shopper's journey, fixed before anything runs."""

    index: int
    persona: Persona
    need: Need
    channel: str
    seed: int
    to_store: bool  # when the agent acting for them is refused: come to the store


@dataclass
class Journey:
    """How a journey went, as the harness saw it; the platform's figures are joined later."""

    plan: JourneyPlan
    email: str
    actors: list[ActorResult] = field(default_factory=list)
    bought_via: str | None = None
    purchases: list[int] = field(default_factory=list)
    refused: bool = False
    fell_back: bool = False
    lost_sale: bool = False
    saw_interface: bool = False
    pages_read: int = 0
    impressions_seen: int = 0
    ad_clicks: int = 0
    outcome: str = ""
    started_at: str | None = None  # ISO 8601, UTC: which policy was in force when it began


@dataclass(frozen=True)
class Runtime:
    """What running a journey needs beside its plan."""

    url: str
    admin_token: str
    catalog: Mapping[int, ProductTraits]
    scenario: Scenario
    key_file: Path | None
    chromium: str | None
    run_tag: str = ""  # makes the shoppers' accounts new in a store that ran this scenario before


def _allocate(total: int, weights: Mapping[str, float]) -> list[str]:
    """`total` agent names in proportion to `weights` (largest remainder), in a fixed order."""
    names = sorted(weights)
    whole = sum(weights.values())
    exact = {name: total * weights[name] / whole for name in names}
    counts = {name: int(exact[name]) for name in names}
    left = total - sum(counts.values())
    for name in sorted(names, key=lambda n: (-(exact[n] - counts[n]), n))[:left]:
        counts[name] += 1
    return [name for name in names for _ in range(counts[name])]


def plan_journeys(scenario: Scenario, personas: Personas) -> list[JourneyPlan]:
    """Every journey of `scenario`: the shoppers', then the assistant sessions'.

    The shoppers are `personas` in turn, or those of them the scenario names.
    """
    shoppers = scenario.population.shoppers
    keys = shoppers.personas or personas.keys
    count = shoppers.count
    rng = random.Random(f"delegation:{scenario.seed}")
    # One order of the shoppers for every share: a larger share delegates a superset.
    order = rng.sample(range(count), count)
    delegating = order[: round(scenario.delegation.share * count)]
    agents = _allocate(len(delegating), scenario.delegation.agents)
    rng.shuffle(agents)
    channel_of = dict(zip(delegating, agents, strict=True))

    plans = []
    for index in range(count):
        who = personas.find(keys[index % len(keys)])
        # Each round through the personas shops for the next of their interests.
        category = who.interests[(index // len(keys)) % len(who.interests)]
        falls = random.Random(f"fallback:{scenario.seed}:{index}").random()
        plans.append(
            JourneyPlan(
                index=index,
                persona=who,
                need=Need.of(who, category),
                channel=channel_of.get(index, BROWSE),
                seed=scenario.seed,
                to_store=falls < scenario.fallback.to_store,
            )
        )
    for offset in range(scenario.population.first_party.sessions):
        who = personas.members[offset % len(personas.members)]
        plans.append(
            JourneyPlan(
                index=count + offset,
                persona=who,
                need=Need.of(who, who.main_category),
                channel=ASSISTANT,
                seed=scenario.seed,
                to_store=False,
            )
        )
    return plans


@dataclass
class Prepared:
    """A journey whose shopper already has an account (and a browser logged in to it)."""

    plan: JourneyPlan
    runtime: Runtime
    shopper: SimulatedShopper | None = None  # None for the assistant's journeys
    ready: bool = True


def prepare_journey(plan: JourneyPlan, runtime: Runtime) -> Prepared:
    """Open the shopper's account at the store, before the journey (and its figures) begin."""
    if plan.channel == ASSISTANT:
        return Prepared(plan, runtime)  # a seeded persona, whose account already exists
    shoppers = runtime.scenario.population.shoppers
    shopper = SimulatedShopper(
        runtime.url,
        ShopperPlan(
            index=plan.index,
            persona=plan.persona,
            seed=plan.seed,
            buy_probability=shoppers.buy_probability,
            use_help_me_decide=shoppers.use_help_me_decide,
            follow_help_me_decide=shoppers.follow_help_me_decide,
            ad_click_rate=runtime.scenario.ads.click_rate,
            need=plan.need,
            run_tag=runtime.run_tag,
        ),
        catalog=runtime.catalog,
    )
    try:
        ready = shopper.register()
    except httpx.HTTPError as exc:
        shopper.result.error = f"{type(exc).__name__}: {exc}"
        ready = False
    if not ready:
        shopper.close()
    return Prepared(plan, runtime, shopper, ready)


def run_journey(prepared: Prepared) -> Journey:
    """Run one journey against the platform and say where it ended."""
    plan, runtime, shopper = prepared.plan, prepared.runtime, prepared.shopper
    started_at = datetime.now(UTC).isoformat()
    if shopper is None:
        journey = _assistant(plan, runtime)
        journey.started_at = started_at
        return journey
    journey = Journey(
        plan=plan, email=shopper.plan.account_email, actors=[shopper.result], started_at=started_at
    )
    if not prepared.ready:
        journey.outcome = shopper.result.error or shopper.result.outcome
        return journey
    try:
        if plan.channel == BROWSE:
            shopper.shop()
        else:
            _delegate(journey, shopper, runtime)
    except httpx.HTTPError as exc:
        shopper.result.error = f"{type(exc).__name__}: {exc}"
        journey.outcome = shopper.result.error
    finally:
        shopper.close()
    _take_store_visit(journey, shopper.result)
    # The shopper's own line in "who got in" tells where their journey ended.
    shopper.result.outcome = journey.outcome
    shopper.result.succeeded = bool(journey.purchases) or shopper.result.succeeded
    return journey


def _delegate(journey: Journey, shopper: SimulatedShopper, runtime: Runtime) -> None:
    plan = journey.plan
    agent = run_outside_agent(
        runtime.url,
        AgentPlan(
            name=plan.channel,
            index=plan.index,
            seed=plan.seed,
            email=shopper.plan.account_email,
            password=shopper.password,
            query=plan.need.words,
            category=plan.need.category,
            budget=plan.need.budget,
            acting_for=f"shopper-{plan.index}",
            admin_token=runtime.admin_token if plan.channel in SIGNED_AGENTS else None,
            chromium=runtime.chromium,
        ),
    )
    journey.actors.append(agent)
    if agent.orders:
        journey.bought_via = plan.channel
        journey.purchases = list(agent.purchases)
        journey.outcome = f"{plan.channel} ordered for the shopper"
        return
    journey.refused = agent.refused > 0
    why = f"{plan.channel} {'was refused' if journey.refused else 'failed'} ({agent.outcome})"
    if plan.to_store:
        journey.fell_back = True
        shopper.shop()
        journey.outcome = f"{why}; the shopper came to the store"
    elif journey.refused:
        journey.lost_sale = True
        journey.bought_via = ELSEWHERE
        journey.outcome = f"{why}; the shopper bought elsewhere"
    else:
        journey.outcome = f"{why}; the shopper gave up"


def _take_store_visit(journey: Journey, visit: ActorResult) -> None:
    """What the shopper did at the store themselves, if they came."""
    journey.pages_read = visit.pages_read
    journey.impressions_seen = visit.impressions_seen
    journey.ad_clicks = visit.ad_clicks
    journey.saw_interface = visit.pages_read > 0
    if visit.purchases:
        journey.bought_via = BROWSE
        journey.purchases = list(visit.purchases)
    if not journey.outcome:
        journey.outcome = visit.outcome


def _assistant(plan: JourneyPlan, runtime: Runtime) -> Journey:
    result = run_first_party_session(
        runtime.url,
        FirstPartyPlan(
            index=plan.index,
            persona=plan.persona,
            seed=plan.seed,
            need=plan.need,
            run_tag=runtime.run_tag,
        ),
        key_file=runtime.key_file,
    )
    journey = Journey(plan=plan, email=plan.persona.email, actors=[result])
    journey.saw_interface = result.requests > 0
    journey.pages_read = result.pages_read
    journey.outcome = result.outcome
    if result.purchases:
        journey.bought_via = ASSISTANT
        journey.purchases = list(result.purchases)
    return journey


def journey_row(journey: Journey, account: Mapping[str, Any]) -> dict[str, Any]:
    """One journey as a JSON-ready row, joined with what the platform recorded for its shopper."""
    plan = journey.plan
    return {
        "index": plan.index,
        "persona": plan.persona.key,
        "category": plan.need.category,
        "need": plan.need.query,
        "channel": plan.channel,
        "agent": plan.channel if plan.channel not in (BROWSE, ASSISTANT) else None,
        "bought_via": journey.bought_via,
        "purchases": journey.purchases,
        "outcome": journey.outcome,
        "started_at": journey.started_at,
        "refused": journey.refused,
        "fell_back": journey.fell_back,
        "lost_sale": journey.lost_sale,
        "saw_interface": journey.saw_interface,
        "pages_read": journey.pages_read,
        "impressions_seen": journey.impressions_seen,
        "impressions_served": int(account.get("ad_impressions", 0)),
        "ad_clicks": journey.ad_clicks,
        "ad_revenue": float(account.get("ad_revenue", 0.0)),
        "orders": int(account.get("orders", 0)),
        "sales": float(account.get("sales", 0.0)),
        "margin": float(account.get("margin", 0.0)),
        "events": int(account.get("events", 0)),
    }
