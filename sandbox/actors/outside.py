"""Outside agents from the shopbots roster, run as members of a scenario's population."""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.actors.base import ActorResult
from shopbots.roster import ROSTER, RunOptions, run_agent

ORDER_PATHS = ("/api/v1/orders", "/checkout")
PAGE_PREFIXES = ("/products/", "/api/v1/products/")


@dataclass(frozen=True)
class AgentPlan:
    """One outside agent of a scenario and what it will try."""

    name: str
    index: int
    seed: int
    pages: int = 20
    stealth: int = 0
    email: str | None = None
    password: str | None = None
    product: str | None = None
    # A delegated journey's stated need, instead of a product id: words, category, budget.
    query: str | None = None
    category: str | None = None
    budget: float | None = None
    acting_for: str | None = None
    admin_token: str | None = None
    chromium: str | None = None

    @property
    def label(self) -> str:
        if self.acting_for:
            return f"{self.name} for {self.acting_for}"
        suffix = f" (stealth {self.stealth})" if self.name == "disguised-browser" else ""
        return f"{self.name}-{self.index}{suffix}"


def run_outside_agent(target: str, plan: AgentPlan) -> ActorResult:
    """Run one roster agent against `target` and report it the way every actor is reported."""
    result = ActorResult(name=plan.label, kind="agent")
    if plan.name not in ROSTER:
        result.error = f"unknown agent {plan.name!r}"
        return result
    options = RunOptions(
        target=target,
        email=plan.email,
        password=plan.password,
        product=plan.product or plan.query,
        category=plan.category,
        budget=plan.budget,
        seed=plan.seed + plan.index,
        pages=plan.pages,
        stealth=plan.stealth,
        admin_token=plan.admin_token,
        partner_name=f"{plan.name}-{plan.index}",
        chromium=plan.chromium,
        # Crawlers' polite pauses are computed and reported but not slept, so a classroom demo
        # does not wait minutes; the gate's rate limits still see the real request rate.
        fast=plan.name.endswith("crawler"),
    )
    try:
        run = run_agent(plan.name, options)
    except Exception as exc:  # one agent's crash must not end the scenario
        result.error = f"{type(exc).__name__}: {exc}"
        result.outcome = "crashed"
        return result
    for step in run.steps:
        result.note(step.answer)
        is_page = step.method == "GET" and step.path.startswith(PAGE_PREFIXES)
        if is_page and step.answer.refused:
            result.pages_refused += 1
        elif is_page and step.answer.ok:
            result.pages_crawled += 1
        if step.method == "POST" and step.path.startswith(ORDER_PATHS) and step.answer.refused:
            result.refused_order_attempts += 1
    ids = [str(o.get("id") or "") for o in run.record.orders]
    result.orders = [int(i) if i.isdigit() else i for i in ids if i]
    if result.orders:
        result.purchases = [int(p) for p in run.record.cart_items if p.isdigit()]
    if ROSTER[plan.name].shops and not result.orders and result.refused:
        # A shopping agent stopped anywhere on its way (login, cart, checkout) is one order the
        # gate prevented, even if it never reached the order endpoint.
        result.refused_order_attempts = max(result.refused_order_attempts, 1)
    result.succeeded = run.succeeded
    result.outcome = run.outcome
    return result
