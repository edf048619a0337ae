"""robots.txt, parsed with protego, agrees with the gate for every registry agent and preset."""

from __future__ import annotations

import pytest
from protego import Protego

from marketplace.gate.facts import RequestFacts
from marketplace.gate.judge import Judge
from marketplace.gate.normalize import normalize_path
from marketplace.gate.policy.compiled import CompiledPolicy
from marketplace.gate.policy.known_agents import default_known_agents
from marketplace.gate.policy.model import PRESET_NAMES, load_policy
from marketplace.gate.policy.robots import render_robots

PATHS = [
    "/products/5",
    "/api/v1/products/5",
    "/cart",
    "/api/v1/cart",
    "/checkout",
    "/api/v1/orders",
]


def facts(compiled: CompiledPolicy, user_agent: str, path: str) -> RequestFacts:
    canonical = normalize_path(path)
    route_class = compiled.routes.match(canonical, "")
    return RequestFacts(
        method="GET",
        path=canonical,
        raw_path=path,
        query="",
        authority="shop.test",
        scheme="http",
        headers=(("user-agent", user_agent),),
        client_ip="203.0.113.9",
        session_id=None,
        route_class=route_class,
        is_asset=False,
    )


@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_robots_txt_agrees_with_the_gate(preset: str) -> None:
    compiled = CompiledPolicy(load_policy(preset))
    registry = default_known_agents()
    parser = Protego.parse(render_robots(compiled, registry))
    engine = Judge(compiled, known_agents=registry)
    checked = 0
    for agent in registry.agents:
        for token in agent.tokens:
            for user_agent in (
                token,
                f"Mozilla/5.0 (compatible; {token}/1.0; +https://example.com/bot)",
            ):
                for path in PATHS:
                    decision = engine.decide(facts(compiled, user_agent, path))
                    gate_lets_in = decision.effective in ("allow", "pay")
                    robots_allows = parser.can_fetch(f"http://shop.test{path}", user_agent)
                    assert robots_allows == gate_lets_in, (
                        preset,
                        user_agent,
                        path,
                        decision.effective,
                        decision.rule_id,
                    )
                    checked += 1
    assert checked > 2000


def test_closed_disallows_every_ai_agent_and_lets_search_engines_index() -> None:
    compiled = CompiledPolicy(load_policy("closed"))
    registry = default_known_agents()
    parser = Protego.parse(render_robots(compiled, registry))
    for agent in registry.agents:
        allowed = parser.can_fetch("http://shop.test/products/5", agent.name)
        assert allowed == (agent.visitor_class in ("search-engine", "automation")), agent.name
        assert not parser.can_fetch("http://shop.test/cart", agent.name)
    assert parser.can_fetch("http://shop.test/robots.txt", "GPTBot")
    assert parser.can_fetch(
        "http://shop.test/.well-known/http-message-signatures-directory", "GPTBot"
    )


def test_observe_mode_robots_allows_everything() -> None:
    compiled = CompiledPolicy(load_policy("observe"))
    parser = Protego.parse(render_robots(compiled, default_known_agents()))
    assert parser.can_fetch("http://shop.test/api/v1/orders", "GPTBot")
