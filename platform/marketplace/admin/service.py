"""What the platform saw: traffic, decisions, orders by channel, ads and revenue.

The dashboard and the harness's reports read the same figures from here, so a number means the
same thing on the projector and in the report.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from marketplace.accounts.models import Account
from marketplace.catalog.models import AdClick, AdImpression, Product
from marketplace.catalog.service import PAYING_CLASSES
from marketplace.gate.models import GateDecision
from marketplace.history.models import HistoryEvent
from marketplace.orders.models import Order, OrderItem

# Revenue model, kept deliberately simple and stated in the docs: the platform keeps its margin
# on what it sells itself and a referral fee on third-party sales; a sponsored listing earns its
# bid for every click by a person (catalog.service.record_ad_click decides what is charged).
REFERRAL_FEE = 0.15
HUMAN_CLASSES = PAYING_CLASSES
# The per-account breakdown is for a run's own shoppers, not a whole store's customer base.
MAX_ACCOUNTS = 2000
REFUSING_ACTIONS = frozenset({"block", "challenge", "throttle", "pay"})
HELP_ME_DECIDE_PATHS = ("/api/v1/help-me-decide", "/help-me-decide")


@dataclass(frozen=True)
class RuleInfo:
    reason: str


def percentile(values: list[int], q: float) -> int:
    """The q-quantile (0..1) by nearest rank; 0 for no values."""
    if not values:
        return 0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def is_operator_request(route_class: str, status: int | None) -> bool:
    """The operator's own requests: the dashboard, its polling and admin calls the store answered.

    They are not the store's traffic: counted, a dashboard left open would show a steady stream of
    "human" requests. Refused or failed admin requests (a wrong token, a crawler) still count.
    """
    return route_class == "admin" and status is not None and status < 400


def _refusal(row: Any, action: str, reasons: dict[str, str]) -> dict[str, Any]:
    return {
        "at": row.at.isoformat(),
        "visitor_class": row.visitor_class,
        "door": row.door,
        "rule": row.rule,
        "action": action,
        "method": row.method,
        "path": row.path,
        "reason": reasons.get(row.rule, ""),
    }


class _Observed:
    """What observe mode let through that enforcement would have refused (`enforced` false)."""

    def __init__(self) -> None:
        self.total = 0
        self.by_class: Counter[str] = Counter()
        self.by_rule: Counter[str] = Counter()
        self.examples: list[dict[str, Any]] = []

    def add(self, row: Any, reasons: dict[str, str]) -> None:
        if row.enforced or row.action not in REFUSING_ACTIONS:
            return
        self.total += 1
        self.by_class[row.visitor_class] += 1
        self.by_rule[row.rule] += 1
        self.examples.append(_refusal(row, row.action, reasons))

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "by_class": dict(self.by_class),
            "by_rule": dict(self.by_rule),
            "examples": list(reversed(self.examples[-12:])),
        }


class _Policies:
    """The policy in force over time: one span per policy version, ordered by when its first
    decision was logged, with what each span refused (or would have). Grouped by version rather
    than by consecutive rows: a request decided just before a switch is logged when it ends,
    possibly after the first decisions under the new version."""

    def __init__(self) -> None:
        self.spans: dict[tuple[int, str], dict[str, Any]] = {}

    def add(self, row: Any, action: str) -> None:
        key = (row.policy_version, row.policy)
        span = self.spans.get(key)
        at = row.at.isoformat()
        if span is None:
            span = {
                "policy": row.policy,
                "version": row.policy_version,
                "from": at,
                "to": at,
                "requests": 0,
                "refused": 0,
                "would_refuse": 0,
                "by_class": {},
            }
            self.spans[key] = span
        span["from"] = min(span["from"], at)
        span["to"] = max(span["to"], at)
        span["requests"] += 1
        span["by_class"][row.visitor_class] = span["by_class"].get(row.visitor_class, 0) + 1
        if action in REFUSING_ACTIONS:
            span["refused"] += 1
        elif not row.enforced and row.action in REFUSING_ACTIONS:
            span["would_refuse"] += 1

    def to_json(self) -> list[dict[str, Any]]:
        return sorted(self.spans.values(), key=lambda span: (span["from"], span["version"]))


def _since(stmt: Any, column: Any, since: datetime | None) -> Any:
    return stmt.where(column >= since) if since is not None else stmt


def traffic_stats(
    session: Session,
    *,
    since: datetime | None,
    now: datetime,
    reasons: dict[str, str],
    buckets: int = 24,
    team: str | None = None,
) -> dict[str, Any]:
    """Requests and the gate's decisions since `since`: by class, action, route class and time.

    `refused` counts what was refused; `would_refuse` (and `observed`) what observe mode let
    through that enforcement would have refused; `policies` the policy in force over time. The
    operator's own requests are left out.
    """
    stmt = select(
        GateDecision.at,
        GateDecision.visitor_class,
        GateDecision.action,
        GateDecision.enforced,
        GateDecision.route_class,
        GateDecision.door,
        GateDecision.rule,
        GateDecision.path,
        GateDecision.method,
        GateDecision.status,
        GateDecision.latency_us,
        GateDecision.policy,
        GateDecision.policy_version,
    ).order_by(GateDecision.id)
    stmt = _since(stmt, GateDecision.at, since)
    if team:
        members = select(Account.id).where(Account.team == team)
        stmt = stmt.where(or_(GateDecision.team == team, GateDecision.account_id.in_(members)))
    rows = [
        r for r in session.execute(stmt).all() if not is_operator_request(r.route_class, r.status)
    ]

    observed = _Observed()
    policies = _Policies()
    by_class: Counter[str] = Counter()
    by_class_decision: dict[str, Counter[str]] = defaultdict(Counter)
    by_route: dict[str, Counter[str]] = defaultdict(Counter)
    by_door: dict[str, Counter[str]] = defaultdict(Counter)
    by_rule: Counter[str] = Counter()
    latencies: list[int] = []
    refused = 0
    hmd_uses = 0
    refusals: list[dict[str, Any]] = []
    start = since or (rows[0].at if rows else now)
    span = max(1.0, (now - start).total_seconds())
    width = max(1, math.ceil(span / buckets))  # the buckets cover the window, no more
    series: dict[str, list[int]] = defaultdict(lambda: [0] * buckets)
    for row in rows:
        action = row.action if row.enforced else "allow"
        by_class[row.visitor_class] += 1
        by_class_decision[row.visitor_class][action] += 1
        by_route[row.route_class][action] += 1
        by_door[row.door][action] += 1
        by_rule[row.rule] += 1
        latencies.append(row.latency_us)
        index = min(buckets - 1, max(0, int((row.at - start).total_seconds() // width)))
        series[row.visitor_class][index] += 1
        observed.add(row, reasons)
        policies.add(row, action)
        if action in REFUSING_ACTIONS:
            refused += 1
            refusals.append(_refusal(row, action, reasons))
        elif row.method == "POST" and row.path in HELP_ME_DECIDE_PATHS and (row.status or 0) < 400:
            hmd_uses += 1
    return {
        "requests": {
            "total": len(rows),
            "refused": refused,
            "would_refuse": observed.total,
            "by_class": dict(by_class),
            "by_class_decision": {k: dict(v) for k, v in by_class_decision.items()},
            "by_route_class": {k: dict(v) for k, v in by_route.items()},
            # web, api, ucp, acp, mcp -> action -> requests: which door the traffic used.
            "by_door": {k: dict(v) for k, v in by_door.items()},
            "by_rule": dict(by_rule),
        },
        "refusals": {"examples": list(reversed(refusals[-12:]))},
        "observed": observed.to_json(),
        "policies": policies.to_json(),
        "timeline": {
            "bucket_seconds": width,
            "buckets": [i * width for i in range(buckets)],
            "series": dict(series),
        },
        "gate_latency_us": {
            "p50": percentile(latencies, 0.50),
            "p99": percentile(latencies, 0.99),
            "count": len(latencies),
        },
        "help_me_decide": {"uses": hmd_uses},
    }


def commerce_stats(session: Session, *, since: datetime | None) -> dict[str, Any]:
    """Orders by channel, ad impressions by class, and the platform's revenue since `since`."""
    orders_stmt = _since(
        select(Order.channel, func.count(Order.id)).group_by(Order.channel), Order.created_at, since
    )
    by_channel = {channel: int(n) for channel, n in session.execute(orders_stmt).all()}

    sales = 0.0
    margin = 0.0
    for _account, line_sales, line_margin in _order_lines(session, since):
        sales += line_sales
        margin += line_margin

    ads_stmt = _since(
        select(AdImpression.visitor_class, func.count(AdImpression.id)).group_by(
            AdImpression.visitor_class
        ),
        AdImpression.created_at,
        since,
    )
    impressions = {c: int(n) for c, n in session.execute(ads_stmt).all()}
    clicks_stmt = _since(
        select(
            AdClick.visitor_class,
            func.count(AdClick.id),
            func.coalesce(func.sum(AdClick.cost).filter(AdClick.charged), 0),
        ).group_by(AdClick.visitor_class),
        AdClick.created_at,
        since,
    )
    clicks: dict[str, int] = {}
    ad_revenue = 0.0
    for visitor_class, count, charged in session.execute(clicks_stmt).all():
        clicks[visitor_class] = int(count)
        ad_revenue += float(charged)
    to_humans = sum(n for c, n in impressions.items() if c in HUMAN_CLASSES)
    return {
        "orders": {"total": sum(by_channel.values()), "by_channel": by_channel},
        "sales": round(sales, 2),
        "ads": {
            "impressions_by_class": impressions,
            "impressions_to_humans": to_humans,
            "impressions_to_agents": sum(impressions.values()) - to_humans,
            "clicks": sum(clicks.values()),
            "clicks_by_class": clicks,
        },
        "revenue": {
            "margin": round(margin, 2),
            "ads": round(ad_revenue, 2),
            "total": round(margin + ad_revenue, 2),
        },
    }


def _order_lines(session: Session, since: datetime | None) -> list[tuple[int | None, float, float]]:
    """(account id, sales, platform margin) of every order line since `since`."""
    stmt = _since(
        select(
            Order.account_id,
            OrderItem.unit_price,
            OrderItem.quantity,
            Product.cost,
            Product.seller_type,
        )
        .join(Order, Order.id == OrderItem.order_id)
        .join(Product, Product.id == OrderItem.product_id),
        Order.created_at,
        since,
    )
    lines = []
    for account_id, unit_price, quantity, cost, seller_type in session.execute(stmt).all():
        sales = unit_price * quantity
        # The platform keeps its margin on its own stock and a referral fee on a third party's.
        margin = (
            (unit_price - cost) * quantity if seller_type == "platform" else sales * REFERRAL_FEE
        )
        lines.append((account_id, sales, margin))
    return lines


def account_stats(session: Session, *, since: datetime | None) -> dict[str, dict[str, Any]]:
    """Per shopper (by email) since `since`: what the platform earned from and learnt about them.

    Only accounts with any order, ad impression, click or history event in the window, and at
    most `MAX_ACCOUNTS` of them (the most recently created), so the answer stays bounded.
    """
    per: dict[int, dict[str, Any]] = defaultdict(
        lambda: {
            "orders": 0,
            "sales": 0.0,
            "margin": 0.0,
            "ad_impressions": 0,
            "ad_clicks": 0,
            "ad_revenue": 0.0,
            "events": 0,
            "events_by_kind": {},
        }
    )
    orders = _since(
        select(Order.account_id, func.count(Order.id)).group_by(Order.account_id),
        Order.created_at,
        since,
    )
    for account_id, count in session.execute(orders).all():
        if account_id is not None:
            per[account_id]["orders"] = int(count)
    for account_id, sales, margin in _order_lines(session, since):
        if account_id is not None:
            per[account_id]["sales"] += sales
            per[account_id]["margin"] += margin
    impressions = _since(
        select(AdImpression.account_id, func.count(AdImpression.id))
        .where(AdImpression.account_id.is_not(None))
        .group_by(AdImpression.account_id),
        AdImpression.created_at,
        since,
    )
    for account_id, count in session.execute(impressions).all():
        per[account_id]["ad_impressions"] = int(count)
    clicks = _since(
        select(
            AdClick.account_id,
            func.count(AdClick.id),
            func.coalesce(func.sum(AdClick.cost).filter(AdClick.charged), 0),
        )
        .where(AdClick.account_id.is_not(None))
        .group_by(AdClick.account_id),
        AdClick.created_at,
        since,
    )
    for account_id, count, charged in session.execute(clicks).all():
        per[account_id]["ad_clicks"] = int(count)
        per[account_id]["ad_revenue"] = float(charged)
    events = _since(
        select(HistoryEvent.account_id, HistoryEvent.kind, func.count(HistoryEvent.id))
        .where(HistoryEvent.account_id.is_not(None))
        .group_by(HistoryEvent.account_id, HistoryEvent.kind),
        HistoryEvent.created_at,
        since,
    )
    for account_id, kind, count in session.execute(events).all():
        per[account_id]["events"] += int(count)
        per[account_id]["events_by_kind"][kind] = int(count)
    ids = sorted(per, reverse=True)[:MAX_ACCOUNTS]
    emails = dict(
        session.execute(select(Account.id, Account.email).where(Account.id.in_(ids))).all()
    )
    out: dict[str, dict[str, Any]] = {}
    for account_id in ids:
        row = per[account_id]
        for key in ("sales", "margin", "ad_revenue"):
            row[key] = round(row[key], 2)
        out[emails.get(account_id, str(account_id))] = row
    return out


def platform_stats(
    session: Session,
    *,
    since: datetime | None,
    now: datetime,
    reasons: dict[str, str],
    team: str | None = None,
    by_account: bool = False,
) -> dict[str, Any]:
    """Everything the dashboard and the reports show, in one JSON-ready mapping."""
    stats = traffic_stats(session, since=since, now=now, reasons=reasons, team=team)
    stats.update(commerce_stats(session, since=since))
    if by_account:
        stats["accounts"] = account_stats(session, since=since)
    stats["generated_at"] = now.isoformat()
    stats["since"] = since.isoformat() if since else None
    return stats
