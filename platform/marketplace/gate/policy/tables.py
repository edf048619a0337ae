"""The policy as a table: visitor class x route class -> what the gate does (docs, admin, CLI)."""

from __future__ import annotations

from marketplace.gate.policy.compiled import CompiledPolicy
from marketplace.gate.policy.model import ROUTE_CLASSES, VISITOR_CLASSES

# Methods shown in a table cell when they differ from GET (HEAD is GET for the gate).
CELL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def cell(compiled: CompiledPolicy, visitor: str, route: str) -> str:
    """One table cell: the GET action, or `GET allow / POST block` when methods differ."""
    actions = {m: compiled.rule_for(visitor, route, m).action for m in CELL_METHODS}
    text: str
    if len(set(actions.values())) == 1:
        text = actions["GET"]
    else:
        groups: dict[str, list[str]] = {}
        for method, action in actions.items():
            groups.setdefault(action, []).append(method)
        text = " / ".join(f"{','.join(ms)}: {a}" for a, ms in groups.items())
    limit = compiled.rate_limits.get(visitor)
    rule = compiled.rule_for(visitor, route, "GET")
    if limit is not None and rule.rate_limited and rule.action in ("allow", "pay"):
        text += f" ≤{limit.requests}/{limit.per_seconds}s"
    return text


def decision_table(compiled: CompiledPolicy) -> dict[str, dict[str, str]]:
    """visitor class -> route class -> cell text, for every class of the vocabulary."""
    return {v: {r: cell(compiled, v, r) for r in ROUTE_CLASSES} for v in VISITOR_CLASSES}
