"""Synthetic reports in the shape the harness writes (see the metrics contract), built from
parameters so tests can move the figures and watch the words follow."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

AGENT_CHANNELS = ("signed-partner", "declared-shopper", "disguised-browser")

CLOSED: dict[str, float] = {
    "interface_share": 0.92,
    "revenue.ads": 412.30,
    "revenue.margin": 830.00,
    "revenue.total": 1242.30,
    "sales": 9870.00,
    "ads.share_of_sales": 0.0418,
    "orders.total": 38,
    "orders.agent": 2,
    "market.delegated_journeys": 20,
    "market.delegation_refused": 17,
    "market.fallback_to_store": 11,
    "market.lost_sales": 6,
    "data.events_per_journey": 14.2,
    "ads.impressions_per_journey": 9.1,
    "ads.clicks": 23,
    "effort.pages_per_journey": 8.9,
    "welfare.ratio": 0.81,
    "welfare.by_channel.browse": 0.78,
    "welfare.by_channel.assistant": 0.86,
    "welfare.by_channel.signed-partner": 0.84,
    "data.events_per_journey.browse": 15.1,
    "data.events_per_journey.assistant": 18.3,
    "data.events_per_journey.signed-partner": 2.0,
    "ads.impressions_per_journey.browse": 10.2,
    "ads.impressions_per_journey.assistant": 6.1,
    "ads.impressions_per_journey.signed-partner": 0.0,
}

OPEN: dict[str, float] = {
    "interface_share": 0.61,
    "revenue.ads": 268.10,
    "revenue.margin": 1010.00,
    "revenue.total": 1278.10,
    "sales": 11800.00,
    "ads.share_of_sales": 0.0227,
    "orders.total": 46,
    "orders.agent": 17,
    "market.delegated_journeys": 20,
    "market.delegation_refused": 3,
    "market.fallback_to_store": 1,
    "market.lost_sales": 2,
    "data.events_per_journey": 9.8,
    "ads.impressions_per_journey": 6.0,
    "ads.clicks": 15,
    "effort.pages_per_journey": 5.6,
    "welfare.ratio": 0.86,
    "welfare.by_channel.browse": 0.78,
    "welfare.by_channel.assistant": 0.86,
    "welfare.by_channel.signed-partner": 0.88,
    "welfare.by_channel.declared-shopper": 0.87,
    "welfare.by_channel.disguised-browser": 0.85,
    "data.events_per_journey.browse": 15.1,
    "data.events_per_journey.assistant": 18.3,
    "data.events_per_journey.signed-partner": 2.0,
    "data.events_per_journey.declared-shopper": 1.6,
    "data.events_per_journey.disguised-browser": 3.1,
    "ads.impressions_per_journey.browse": 10.2,
    "ads.impressions_per_journey.assistant": 6.1,
    "ads.impressions_per_journey.signed-partner": 0.0,
    "ads.impressions_per_journey.declared-shopper": 0.0,
    "ads.impressions_per_journey.disguised-browser": 0.4,
}

SHARES = ("interface_share", "ads.share_of_sales", "welfare.")

TITLES = {"closed": "The walled garden", "open": "The open platform"}
NAMES = {"closed": "walled-garden", "open": "open-platform"}


def summary(figures: Mapping[str, float], spread: float) -> dict[str, dict[str, float]]:
    """Each figure with an interval `spread` times its mean wide on either side."""
    out = {}
    for key, mean in figures.items():
        half = abs(mean) * spread if mean else 0.01 * spread
        # Shares and ratios cannot pass 1, whatever the spread.
        top = 1.0 if key.startswith(SHARES) else float("inf")
        out[key] = {"mean": mean, "low": max(0.0, mean - half), "high": min(top, mean + half)}
    return out


def journeys(figures: Mapping[str, float], policy: str, total: int = 50) -> list[dict[str, Any]]:
    """Journeys whose counts agree with the figures (rounded)."""
    delegated = round(figures["market.delegated_journeys"])
    refused = round(figures["market.delegation_refused"])
    fell = round(figures["market.fallback_to_store"])
    lost = round(figures["market.lost_sales"])
    agent_orders = round(figures["orders.agent"])
    rows: list[dict[str, Any]] = []
    for index in range(total):
        persona = f"persona-{index % 7}"
        if index < delegated:
            channel = AGENT_CHANNELS[index % 3]
            was_refused = index < refused
            if was_refused:
                bought = "browse" if index < fell else "elsewhere" if index < fell + lost else None
            else:
                bought = channel if index - refused < agent_orders else None
        else:
            channel = "assistant" if index % 4 == 0 else "browse"
            was_refused = False
            bought = channel if index % 5 else None
        human = bought in ("browse", "assistant") or channel in ("browse", "assistant")
        rows.append(
            {
                "index": index,
                "persona": persona,
                "category": ("tents", "headphones", "kettles")[index % 3],
                "channel": channel,
                "agent": channel if channel in AGENT_CHANNELS else None,
                "bought_via": bought,
                "outcome": "bought" if bought else "bought nothing",
                "refused": was_refused,
                "fell_back": was_refused and bought == "browse",
                "lost_sale": bought == "elsewhere",
                "saw_interface": human,
                "events": 14 if human else 2,
                "impressions_seen": 9 if human else 0,
                "ad_clicks": 1 if human and index % 3 == 0 else 0,
                "ad_revenue": 0.8 if human else 0.0,
                "sales": 120.0 if bought and bought != "elsewhere" else 0.0,
                "margin": 12.0 if bought and bought != "elsewhere" else 0.0,
                "welfare": 0.8 if bought else None,
                "pages_read": 9 if human else 0,
            }
        )
    return rows


def actor(
    name: str, kind: str, cls: str, requests: int, refused: int, orders: int, **extra: Any
) -> dict[str, Any]:
    """One entry of a run's `agents`, as the harness's ActorResult.as_dict() writes it."""
    row: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "persona": None,
        "visitor_class": cls,
        "classes": {cls: requests},
        "requests": requests,
        "allowed": requests - refused,
        "refused": refused,
        "top_rule": extra.pop("rule", None),
        "orders": orders,
        "refused_order_attempts": 1 if refused else 0,
        "pages_crawled": 0,
        "pages_refused": 0,
        "hmd_used": kind == "first-party",
        "succeeded": True,
        "outcome": "Done.",
        "error": None,
        "seconds": 1.5,
    }
    row.update(extra)
    return row


def agents(policy: str) -> dict[str, dict[str, Any]]:
    """The shoppers, the platform assistant and five outside agents; the closed policy keeps
    the outside ones out, and two of them fail with the gate's reason."""
    closed = policy == "closed"
    rows = [
        actor("shoppers", "human", "human", 1180, 0, 30),
        actor("help-me-decide", "first-party", "first-party-agent", 80, 0, 4),
        actor("polite-crawler", "agent", "declared-crawler", 12, 10 if closed else 0, 0),
        actor("stealth-crawler", "agent", "suspected-agent", 20, 14 if closed else 0, 0),
        actor("signed-partner", "agent", "verified-agent", 25, 0, 2 if closed else 6),
    ]
    if closed:
        rows += [
            actor(
                "declared-shopper", "agent", "declared-agent", 9, 9, 0,
                rule="ai-agents-out", succeeded=False, outcome="Refused at the door.",
                error="403 from rule ai-agents-out: outside shopping agents may not enter"
                " this store",
            ),
            actor(
                "disguised-browser", "agent", "suspected-agent", 40, 12, 0,
                rule="suspected-automation-challenged", succeeded=False,
                outcome="Challenged at checkout.",
                error="403 from rule suspected-automation-challenged: the checkout asked for"
                " a human check the agent could not pass",
            ),
        ]  # fmt: skip
        for row in rows[2:4]:
            row["top_rule"] = "ai-crawlers-out"
    else:
        rows += [
            actor("declared-shopper", "agent", "declared-agent", 9, 0, 6),
            actor("disguised-browser", "agent", "suspected-agent", 40, 0, 5),
        ]
    return {row["name"]: row for row in rows}


REFUSALS = (
    (
        "declared-agent",
        "ai-agents-out",
        "block",
        "/api/v1/products?q=tent&category=camping-gear&page=2",
        "Outside shopping agents may not enter this store.",
    ),
    (
        "suspected-agent",
        "suspected-automation-challenged",
        "challenge",
        "/checkout",
        "Automated checkout looks like a bot; prove you are human.",
    ),
    (
        "declared-crawler",
        "ai-crawlers-out",
        "block",
        "/products/17",
        "AI crawlers are not allowed to read this store.",
    ),
)


def run(figures: Mapping[str, float], policy: str, seed: int, name: str) -> dict[str, Any]:
    closed = policy == "closed"
    rows = journeys(figures, policy)
    return {
        "scenario": {"name": name, "policy": policy, "seed": seed},
        "seed": seed,
        "requests": {
            "total": 1366,
            "refused": 45 if closed else 0,
            "by_class_decision": {
                "human": {"allow": 1180},
                "first-party-agent": {"allow": 80},
                "declared-crawler": {"block": 10, "allow": 2} if closed else {"allow": 12},
                "suspected-agent": {"challenge": 26, "allow": 34} if closed else {"allow": 60},
                "declared-agent": {"block": 9} if closed else {"allow": 9},
                "verified-agent": {"allow": 25},
                "search-engine": {"allow": 3},
            },
        },
        "refusals": {
            "examples": [
                {
                    "at": f"2026-06-01T12:00:{i:02d}+00:00",
                    "visitor_class": cls,
                    "rule": rule,
                    "action": action,
                    "method": "GET",
                    "path": path,
                    "reason": reason,
                }
                for i, (cls, rule, action, path, reason) in enumerate(REFUSALS)
                if closed
            ]
        },
        "gate_latency_us": {"p50": 180 + seed % 7, "p99": 950 + seed % 11, "count": 1366},
        "orders": {"total": round(figures["orders.total"]), "refused_attempts": 2 if closed else 0},
        "expectations": [
            {
                "metric": "orders.agent",
                "op": "==" if closed else ">=",
                "value": 0 if closed else 1,
                "actual": round(figures["orders.agent"]),
                "ok": not closed or figures["orders.agent"] == 0,
            },
            {
                "metric": "market.lost_sales",
                "op": ">=",
                "value": 0,
                "actual": round(figures["market.lost_sales"]),
                "ok": True,
            },
        ],
        "passed": True,
        "agents": agents(policy),
        "journeys": rows,
        "market": {
            "journeys": len(rows),
            "delegated_journeys": figures["market.delegated_journeys"],
            "delegation_refused": figures["market.delegation_refused"],
            "fallback_to_store": figures["market.fallback_to_store"],
            "lost_sales": figures["market.lost_sales"],
            "agent_orders": figures["orders.agent"],
        },
        "interface_share": figures["interface_share"],
    }


def scenario(
    policy: str,
    figures: Mapping[str, float] | None = None,
    *,
    spread: float = 0.08,
    delegation_share: float = 0.4,
    seeds: Sequence[int] = (42,),
    name: str | None = None,
) -> dict[str, Any]:
    """One ScenarioResult; `figures` overrides the defaults of its policy."""
    merged = dict(CLOSED if policy == "closed" else OPEN)
    merged.update(figures or {})
    name = name or NAMES.get(policy, policy)
    return {
        "name": name,
        "title": TITLES.get(policy, name),
        "description": f"The {policy} policy with {delegation_share:.0%} of shoppers delegating.",
        "policy": policy,
        "delegation_share": delegation_share,
        "seeds": list(seeds),
        "runs": [run(merged, policy, seed, name) for seed in seeds],
        "summary": summary(merged, spread),
    }


def sweep(shares: Sequence[float] = (0.0, 0.2, 0.4, 0.6, 0.8)) -> list[dict[str, Any]]:
    """agent-adoption: both policies at each delegation share; closed loses revenue and
    interface as adoption grows, open loses interface but keeps its sales."""
    out = []
    for policy in ("closed", "open"):
        for share in shares:
            drop = share * (0.45 if policy == "closed" else 0.1)
            interface = 1.0 - share * (0.2 if policy == "closed" else 0.8)
            figures = {
                "revenue.total": round(1300 * (1 - drop), 2),
                "interface_share": interface,
                "welfare.ratio": 0.84 - share * (0.08 if policy == "closed" else -0.03),
                "revenue.ads": round(420 * interface, 2),
            }
            out.append(
                scenario(
                    policy,
                    figures,
                    delegation_share=share,
                    name=f"agent-adoption/{policy}-{round(share * 100)}",
                )
            )
    return out


def data_advantage(
    ratios: Sequence[float] = (0.58, 0.66, 0.77, 0.86, 0.91), baseline: float = 0.72
) -> dict[str, Any]:
    return {
        "levels": [0, 1, 3, 10, 30],
        "help_me_decide": list(ratios),
        "low": [r - 0.04 for r in ratios],
        "high": [min(1.0, r + 0.04) for r in ratios],
        "baseline": {
            "name": "best_seller",
            "label": "Best-seller (most reviews)",
            "ratio": baseline,
        },
        "seed": 42,
        "products": 600,
    }


def report(
    closed: Mapping[str, float] | None = None,
    opened: Mapping[str, float] | None = None,
    *,
    spread: float = 0.08,
    with_sweep: bool = False,
    with_data_advantage: bool = False,
) -> dict[str, Any]:
    """A demo report: the walled garden and the open platform, optionally a sweep and the
    data-advantage curve; findings left empty for the code under test to fill."""
    scenarios = [
        scenario("closed", closed, spread=spread),
        scenario("open", opened, spread=spread),
    ]
    if with_sweep:
        scenarios += sweep()
    out: dict[str, Any] = {"scenarios": scenarios, "findings": []}
    if with_data_advantage:
        out["data_advantage"] = data_advantage()
    return out
