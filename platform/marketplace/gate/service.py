"""Gate logic without HTTP: decision tables and wiring the gate into an app."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI

from marketplace.gate.compiled import CompiledPolicy
from marketplace.gate.decisionlog import DecisionLog
from marketplace.gate.engine import GateEngine
from marketplace.gate.metrics import GateMetrics
from marketplace.gate.policy import METHODS, ROUTE_CLASSES, VISITOR_CLASSES
from marketplace.gate.registry import default_registry
from marketplace.gate.runtime import GateRuntime

log = logging.getLogger(__name__)

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


def _stored_policy_version(state: Any) -> int:
    """The shared policy version now, read from the store without starting its background tick."""
    if state is None:
        return 0
    try:
        versions: dict[str, int] = state.store.read_versions()
    except Exception:  # an unmigrated or unreachable store: nothing was switched there yet
        log.warning("could not read the shared policy version; starting from 0", exc_info=True)
        return 0
    return int(versions.get("policy", 0))


def install_gate(app: FastAPI) -> GateRuntime:
    """Put the gate in front of the app: call last in the factory, so it is the outermost layer.

    Uses the identity layer (`app.state.identity`: keys, partners, shared state, behaviour,
    escalation) when the factory installed it; without it the gate identifies by user agent only.
    Raises PolicyError when SANDBOX_POLICY names no preset or an invalid file.
    """
    from marketplace.gate.middleware import GateMiddleware

    settings = app.state.settings
    compiled, text, source = GateRuntime.load_startup(settings.policy)
    identity: Any = getattr(app.state, "identity", None)
    state = identity.state if identity is not None else None
    escalator = identity.escalator if identity is not None else None
    engine = GateEngine(
        compiled,
        registry=default_registry(),
        identity=identity,
        tracker=identity.tracker if identity is not None else None,
        state=state,
        escalator=escalator,
        clock=app.state.clock,
    )
    decision_log = DecisionLog(
        app.state.db,
        resolve_account=escalator.resolve_account if escalator is not None else None,
    )
    app.state.shutdown_hooks.append(decision_log.close)
    baseline = _stored_policy_version(state)
    engine.compiled = CompiledPolicy(compiled.policy, version=baseline, source=source)
    runtime = GateRuntime(
        engine,
        decision_log=decision_log,
        metrics=GateMetrics(),
        state=state,
        startup_text=text,
        startup_source=source,
        baseline_version=baseline,
    )
    app.state.gate = runtime
    app.add_middleware(GateMiddleware, runtime=runtime)
    return runtime


__all__ = ["METHODS", "cell", "decision_table", "install_gate"]
