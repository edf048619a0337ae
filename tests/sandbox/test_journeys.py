"""Shopping journeys: who delegates to which agent, who falls back, and where journeys end."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from sandbox.journeys import ASSISTANT, BROWSE, ELSEWHERE, plan_journeys
from sandbox.persona import load_personas
from sandbox.runner import run_seeds
from sandbox.scenario import load_scenario

PERSONAS = load_personas()

pytestmark = [pytest.mark.slow]


def scenario(**update: Any) -> Any:
    return load_scenario("walled-garden").model_copy(update=update)


def test_the_delegation_share_and_the_agent_weights_are_met_exactly() -> None:
    plans = plan_journeys(scenario(), PERSONAS)
    shoppers = [p for p in plans if p.channel != ASSISTANT]
    assert len(shoppers) == 40
    assert len([p for p in plans if p.channel == ASSISTANT]) == 4
    delegated = Counter(p.channel for p in shoppers if p.channel != BROWSE)
    # 40 % of 40 shoppers, split 3:1:1.
    assert delegated == {"signed-partner": 10, "declared-shopper": 3, "disguised-browser": 3}


def test_same_seed_same_plan_and_only_the_policy_differs_between_the_demo_scenarios() -> None:
    closed = plan_journeys(load_scenario("walled-garden"), PERSONAS)
    opened = plan_journeys(load_scenario("open-platform"), PERSONAS)
    assert [(p.channel, p.need, p.to_store) for p in closed] == [
        (p.channel, p.need, p.to_store) for p in opened
    ]
    other_seed = plan_journeys(
        load_scenario("walled-garden").model_copy(update={"seed": 7}), PERSONAS
    )
    assert [p.channel for p in other_seed] != [p.channel for p in closed]


def test_a_larger_share_delegates_a_superset_of_the_shoppers() -> None:
    base = scenario()

    def delegating(share: float) -> set[int]:
        plan = base.model_copy(
            update={"delegation": base.delegation.model_copy(update={"share": share})}
        )
        return {
            p.index for p in plan_journeys(plan, PERSONAS) if p.channel not in (BROWSE, ASSISTANT)
        }

    assert delegating(0.2) <= delegating(0.5) <= delegating(0.8)
    assert len(delegating(0.0)) == 0


def small_run(policy: str, to_store: float) -> list[dict[str, Any]]:
    base = load_scenario("walled-garden")
    run = base.model_copy(
        update={
            "policy": policy,
            "catalog": base.catalog.model_copy(update={"products": 240}),
            "population": base.population.model_copy(
                update={
                    "shoppers": base.population.shoppers.model_copy(update={"count": 6}),
                    "first_party": base.population.first_party.model_copy(update={"sessions": 1}),
                    "agents": [],
                }
            ),
            "delegation": base.delegation.model_copy(
                update={"share": 0.5, "agents": {"signed-partner": 1.0}}
            ),
            "fallback": base.fallback.model_copy(update={"to_store": to_store}),
            "expect": [],
        }
    )
    result = run_seeds(run, [run.seed], personas=PERSONAS, show_progress=False)
    rows: list[dict[str, Any]] = result["runs"][0]["journeys"]
    assert result["summary"]["market.delegated_journeys"]["mean"] == 3
    return rows


def test_refused_shoppers_who_fall_back_buy_at_the_store() -> None:
    rows = small_run("closed", to_store=1.0)
    delegated = [r for r in rows if r["agent"] == "signed-partner"]
    assert delegated
    assert all(r["refused"] and r["fell_back"] for r in delegated)
    assert not any(r["lost_sale"] for r in rows)
    # Back at the store they read pages, see ads and leave history, like any browser.
    for row in delegated:
        assert row["saw_interface"]
        assert row["pages_read"] > 0
        assert row["events"] > 0
        assert row["bought_via"] in (BROWSE, None)


def test_refused_shoppers_who_do_not_fall_back_are_lost_sales() -> None:
    rows = small_run("closed", to_store=0.0)
    delegated = [r for r in rows if r["agent"] == "signed-partner"]
    for row in delegated:
        assert row["lost_sale"]
        assert row["bought_via"] == ELSEWHERE
        assert not row["saw_interface"]
        assert row["pages_read"] == 0
        assert row["sales"] == 0
        assert row["impressions_seen"] == 0


def test_on_the_open_platform_the_agent_buys_and_the_person_sees_no_page() -> None:
    rows = small_run("open", to_store=1.0)
    delegated = [r for r in rows if r["agent"] == "signed-partner"]
    assert all(r["bought_via"] == "signed-partner" for r in delegated)
    for row in delegated:
        assert not row["refused"]
        assert not row["fell_back"]
        assert row["pages_read"] == 0
        assert row["impressions_seen"] == 0
        assert row["sales"] > 0
        assert row["welfare"] is not None
        assert row["ad_revenue"] == 0  # agents never click ads
    assert any(r["bought_via"] == ASSISTANT for r in rows)
