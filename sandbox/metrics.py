"""The figures of a run: the platform's own view joined with what each actor saw."""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sandbox.actors.base import ActorResult
from sandbox.figures import by_channel, run_figures, welfare_by_channel
from sandbox.journeys import Journey, journey_row
from sandbox.persona import Personas
from sandbox.scenario import Expectation, Scenario
from sandbox.utility import ProductTraits, utility

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


class Welfare:
    """Each purchase's utility for its shopper against the best product they could have had."""

    def __init__(self, catalog: Mapping[int, ProductTraits], personas: Personas) -> None:
        self.catalog = catalog
        self.personas = personas
        self._best: dict[tuple[str, str], float | None] = {}

    def best(self, persona_key: str, category: str) -> float | None:
        key = (persona_key, category)
        if key not in self._best:
            profile = self.personas.find(persona_key).profile
            scores = [utility(profile, f) for f in self.catalog.values() if f.category == category]
            self._best[key] = max(scores) if scores else None
        return self._best[key]

    def ratio(self, persona_key: str, product_id: int) -> float | None:
        """Utility of the product / utility of the best in its category; None if unknown."""
        facts = self.catalog.get(product_id)
        if facts is None:
            return None
        best = self.best(persona_key, facts.category)
        if not best or best <= 0:
            return None
        return max(0.0, utility(self.personas.find(persona_key).profile, facts)) / best

    def of_purchases(self, persona_key: str, product_ids: Sequence[int]) -> float | None:
        """The mean ratio of what one shopper bought."""
        ratios = [r for pid in product_ids if (r := self.ratio(persona_key, pid)) is not None]
        return round(sum(ratios) / len(ratios), 4) if ratios else None


def oracle_ratio(results: Sequence[ActorResult], welfare: Welfare) -> float:
    """Help Me Decide's top picks for the simulated shoppers, against each one's best product."""
    ratios = [
        r
        for result in results
        if result.persona is not None and result.hmd_top_pick is not None
        if (r := welfare.ratio(result.persona, result.hmd_top_pick)) is not None
    ]
    return round(sum(ratios) / len(ratios), 4) if ratios else 0.0


def build_metrics(
    scenario: Scenario,
    platform: Mapping[str, Any],
    journeys: Sequence[Journey],
    others: Sequence[ActorResult],
    catalog: Mapping[int, ProductTraits],
    personas: Personas,
    *,
    seconds: float,
) -> dict[str, Any]:
    """Every figure of one run, JSON-ready, in the shape the report and expectations read.

    `journeys` are the shoppers' journeys, `others` every actor outside them (crawlers, and
    outside agents a scenario lists on their own); `platform` is the admin stats endpoint's
    answer for the run's window, with its per-account figures; `personas` hold the hidden
    profiles that welfare is judged by.
    """
    results = [actor for journey in journeys for actor in journey.actors] + list(others)
    welfare = Welfare(catalog, personas)
    accounts: Mapping[str, Any] = platform.get("accounts") or {}
    rows = []
    for journey in journeys:
        row = journey_row(journey, accounts.get(journey.email, {}))
        row["welfare"] = welfare.of_purchases(journey.plan.persona.key, journey.purchases)
        rows.append(row)

    metrics: dict[str, Any] = {k: v for k, v in platform.items() if k != "accounts"}
    metrics["scenario"] = {
        "name": scenario.name,
        "title": scenario.title,
        "description": scenario.description,
        "policy": scenario.policy,
        "seed": scenario.seed,
        "products": scenario.catalog.products,
        "house_brand_boost": scenario.house_brand_boost,
        "delegation_share": scenario.delegation.share,
    }
    metrics["seconds"] = round(seconds, 1)
    metrics["agents"] = {r.name: r.as_dict() for r in results}
    metrics["journeys"] = rows

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
    values = run_figures(rows)
    metrics["market"] = {
        "journeys": len(rows),
        **{
            key.split(".", 1)[1]: int(values[key] or 0)
            for key in (
                "market.delegated_journeys",
                "market.delegation_refused",
                "market.fallback_to_store",
                "market.lost_sales",
            )
        },
        "agent_orders": int(values["orders.agent"] or 0),
    }
    metrics["interface_share"] = round(values["interface_share"] or 0.0, 4)
    metrics["data"] = {
        "events_per_journey": round(values["data.events_per_journey"] or 0.0, 3),
        "by_channel": by_channel(rows, "events"),
    }
    ads = dict(metrics.get("ads") or {})
    ads["impressions_per_journey"] = by_channel(rows, "impressions_seen")
    ads["clicks_by_people"] = sum(row["ad_clicks"] for row in rows)
    metrics["ads"] = ads

    humans = [r for r in results if r.kind == "human"]
    hmd = dict(metrics.get("help_me_decide") or {})
    hmd["shoppers_who_used_it"] = sum(1 for r in humans if r.hmd_used)
    hmd["oracle_ratio"] = oracle_ratio(humans, welfare)
    metrics["help_me_decide"] = hmd
    scored = [row["welfare"] for row in rows if row["welfare"] is not None]
    metrics["welfare"] = {
        "purchases_scored": len(scored),
        "ratio": round(sum(scored) / len(scored), 4) if scored else 0.0,
        "by_channel": welfare_by_channel(rows),
    }
    metrics["policies"] = policy_spans(platform.get("policies") or [], rows)
    metrics["expectations"] = check_expectations(metrics, scenario.expect)
    metrics["passed"] = all(c["ok"] for c in metrics["expectations"])
    return metrics


def policy_spans(
    spans: Sequence[Mapping[str, Any]], rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The platform's policy spans, each with the journeys that began under it.

    Each journey row gets `policy`: the policy in force when it began (the span whose first
    decision came before it; the first span for journeys that began before any decision).
    """
    out = [dict(span) | {"journeys": 0, "purchases": 0, "lost_sales": 0} for span in spans]
    starts = [_moment(span.get("from")) for span in out]
    for row in rows:
        started = _moment(row.get("started_at"))
        index = 0
        for i, begun in enumerate(starts):
            if started is not None and begun is not None and begun <= started:
                index = i
        if not out:
            row["policy"] = None
            continue
        span = out[index]
        row["policy"] = span.get("policy")
        span["journeys"] += 1
        span["purchases"] += len(row.get("purchases") or [])
        span["lost_sales"] += 1 if row.get("lost_sale") else 0
    return out


def _moment(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
