"""The figures of a run: the platform's own view joined with what each actor saw."""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sandbox.actors.base import ActorResult
from sandbox.personas import ProductFacts, persona, utility
from sandbox.scenario import Expectation, Scenario

OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
}


def lookup(metrics: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path; a missing count is 0 (nothing happened), not an error."""
    node: Any = metrics
    for part in path.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return 0
    return node


def check_expectations(
    metrics: Mapping[str, Any], expectations: Sequence[Expectation]
) -> list[dict[str, Any]]:
    checks = []
    for expectation in expectations:
        actual = lookup(metrics, expectation.metric)
        try:
            ok = bool(OPERATORS[expectation.op](float(actual), expectation.value))
        except (TypeError, ValueError):
            ok = False
        checks.append(
            {
                "metric": expectation.metric,
                "op": expectation.op,
                "value": expectation.value,
                "actual": actual,
                "ok": ok,
            }
        )
    return checks


def _best_in_category(
    catalog: Mapping[int, ProductFacts], category: str, persona_key: str
) -> float | None:
    profile = persona(persona_key).profile
    scores = [utility(profile, f) for f in catalog.values() if f.category == category]
    return max(scores) if scores else None


def welfare(results: Sequence[ActorResult], catalog: Mapping[int, ProductFacts]) -> dict[str, Any]:
    """Mean utility of what simulated shoppers bought, against the best product they could have."""
    ratios: list[float] = []
    utilities: list[float] = []
    for result in results:
        if result.persona is None:
            continue
        profile = persona(result.persona).profile
        for product_id in result.purchases:
            facts = catalog.get(product_id)
            if facts is None:
                continue
            best = _best_in_category(catalog, facts.category, result.persona)
            value = utility(profile, facts)
            utilities.append(value)
            if best and best > 0:
                ratios.append(max(0.0, value) / best)
    return {
        "purchases_scored": len(ratios),
        "mean_utility": round(sum(utilities) / len(utilities), 4) if utilities else 0.0,
        "ratio": round(sum(ratios) / len(ratios), 4) if ratios else 0.0,
    }


def oracle_ratio(results: Sequence[ActorResult], catalog: Mapping[int, ProductFacts]) -> float:
    """Help Me Decide's top picks for the simulated shoppers, against each one's best product."""
    ratios = []
    for result in results:
        if result.persona is None or result.hmd_top_pick is None:
            continue
        facts = catalog.get(result.hmd_top_pick)
        if facts is None:
            continue
        best = _best_in_category(catalog, facts.category, result.persona)
        if best and best > 0:
            ratios.append(max(0.0, utility(persona(result.persona).profile, facts)) / best)
    return round(sum(ratios) / len(ratios), 4) if ratios else 0.0


def build_metrics(
    scenario: Scenario,
    platform: Mapping[str, Any],
    results: Sequence[ActorResult],
    catalog: Mapping[int, ProductFacts],
    *,
    seconds: float,
) -> dict[str, Any]:
    """Every figure of one run, JSON-ready, in the shape the report and expectations read."""
    metrics: dict[str, Any] = dict(platform)
    metrics["scenario"] = {
        "name": scenario.name,
        "title": scenario.title,
        "description": scenario.description,
        "policy": scenario.policy,
        "seed": scenario.seed,
        "products": scenario.catalog.products,
        "house_brand_boost": scenario.house_brand_boost,
    }
    metrics["seconds"] = round(seconds, 1)
    metrics["agents"] = {r.name: r.as_dict() for r in results}

    orders = dict(metrics.get("orders") or {"total": 0, "by_channel": {}})
    orders["refused_attempts"] = sum(r.refused_order_attempts for r in results)
    by_kind: Counter[str] = Counter()
    for result in results:
        by_kind[result.kind] += len(result.orders)
    orders["by_actor_kind"] = dict(by_kind)
    metrics["orders"] = orders

    agents = [r for r in results if r.kind == "agent"]
    metrics["crawl"] = {
        "pages_crawled": sum(r.pages_crawled for r in agents),
        "pages_refused": sum(r.pages_refused for r in agents),
    }

    ads = dict(metrics.get("ads") or {})
    human_orders = by_kind.get("human", 0)
    humans = [r for r in results if r.kind == "human"]
    per_journey = ads.get("impressions_to_humans", 0) / max(1, human_orders or len(humans))
    delegated = by_kind.get("agent", 0) + by_kind.get("first-party", 0)
    # Each purchase an agent makes is a shopping journey no person browsed, so the sponsored
    # listings a person would have seen on the way were never shown.
    ads["skipped_by_agents"] = round(per_journey * delegated)
    metrics["ads"] = ads

    hmd = dict(metrics.get("help_me_decide") or {})
    hmd["shoppers_who_used_it"] = sum(1 for r in humans if r.hmd_used)
    hmd["oracle_ratio"] = oracle_ratio(humans, catalog)
    metrics["help_me_decide"] = hmd
    metrics["welfare"] = welfare(humans, catalog)
    metrics["expectations"] = check_expectations(metrics, scenario.expect)
    metrics["passed"] = all(c["ok"] for c in metrics["expectations"])
    return metrics
