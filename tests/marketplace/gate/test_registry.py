"""The agent registry: every ai.robots.txt name is an agent, no ordinary browser ever is."""
# ruff: noqa: E501  (real user agent strings are long)

from __future__ import annotations

import json
from pathlib import Path

import pytest

from marketplace.gate.facts import RequestFacts
from marketplace.gate.judge import Judge
from marketplace.gate.policy.compiled import CompiledPolicy
from marketplace.gate.policy.known_agents import (
    AI_CATEGORIES,
    CATEGORIES,
    default_known_agents,
    looks_like_browser,
)
from marketplace.gate.policy.model import load_policy

REFERENCE = Path(__file__).resolve().parents[4] / "shared" / "reference" / "ai-robots.json"
BROWSERS = Path(__file__).parent / "data" / "browser_user_agents.txt"


def browser_user_agents() -> list[str]:
    lines = BROWSERS.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line and not line.startswith("#")]


def facts_for(user_agent: str, path: str = "/api/v1/products/1") -> RequestFacts:
    headers = (("user-agent", user_agent),) if user_agent else ()
    return RequestFacts(
        method="GET",
        path=path,
        raw_path=path,
        query="",
        authority="shop.test",
        scheme="http",
        headers=headers,
        client_ip="203.0.113.9",
        session_id=None,
        route_class="product",
        is_asset=False,
    )


def test_registry_is_large_and_categorised() -> None:
    registry = default_known_agents()
    ai = [a for a in registry.agents if a.category in AI_CATEGORIES]
    assert len(ai) >= 150
    assert {a.category for a in registry.agents} == set(CATEGORIES)
    assert all(a.operator for a in registry.agents)


def test_every_ai_robots_name_is_classified_as_an_agent() -> None:
    if not REFERENCE.is_file():
        pytest.skip(f"the ai.robots.txt snapshot is not at {REFERENCE}")
    names = json.loads(REFERENCE.read_text(encoding="utf-8"))
    registry = default_known_agents()
    missing = [name for name in names if registry.match(name) is None]
    assert not missing, f"not in the registry: {missing}"
    # In a realistic user agent string too, and never as a human.
    engine = Judge(CompiledPolicy(load_policy("closed")))
    for name in names:
        ua = f"Mozilla/5.0 (compatible; {name}/1.0; +https://example.com/bot)"
        decision = engine.decide(facts_for(ua))
        assert decision.visitor_class not in ("human", "suspected-agent"), (name, decision)
        assert decision.signals["claim"] == "unverified"


@pytest.mark.parametrize(
    ("user_agent", "name", "visitor_class"),
    [
        (
            "Mozilla/5.0 (compatible; GPTBot/1.1; +https://openai.com/gptbot)",
            "GPTBot",
            "declared-crawler",
        ),
        (
            "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ChatGPT-User/1.0; +https://openai.com/bot)",
            "ChatGPT-User",
            "declared-agent",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
            "Applebot",
            "search-engine",
        ),
        ("Applebot-Extended/1.0", "Applebot-Extended", "declared-crawler"),
        (
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Googlebot",
            "search-engine",
        ),
        ("Googlebot-Image/1.0", "Googlebot", "search-engine"),
        ("Google-Extended", "Google-Extended", "declared-crawler"),
        (
            "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
            "bingbot",
            "search-engine",
        ),
        (
            "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; PerplexityBot/1.0; +https://perplexity.ai/perplexitybot)",
            "PerplexityBot",
            "declared-crawler",
        ),
        ("curl/8.5.0", "curl", "automation"),
        ("python-requests/2.32.3", "python-requests", "automation"),
        ("python-httpx/0.27.0", "python-httpx", "automation"),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
            "HeadlessChrome",
            "automation",
        ),
        ("Scrapy/2.11.2 (+https://scrapy.org)", "Scrapy", "declared-crawler"),
        ("Go-http-client/2.0", "Go-http-client", "automation"),
        ("Wget/1.21.4", "Wget", "automation"),
        ("MistralAI-User/1.0", "MistralAI-User", "declared-agent"),
    ],
)
def test_known_agents(user_agent: str, name: str, visitor_class: str) -> None:
    agent = default_known_agents().match(user_agent)
    assert agent is not None
    assert agent.name == name
    assert agent.visitor_class == visitor_class


@pytest.mark.parametrize(
    "user_agent",
    ["Mozilla/5.0 (compatible; MyCodeBotX/1.0)", "SpiderMonkey", "Operators/1.0", "xcurl/1"],
)
def test_names_match_only_as_whole_tokens(user_agent: str) -> None:
    assert default_known_agents().match(user_agent) is None


def test_browser_user_agents_are_human() -> None:
    uas = browser_user_agents()
    assert len(uas) >= 200
    registry = default_known_agents()
    engine = Judge(CompiledPolicy(load_policy("closed")))
    for ua in uas:
        assert registry.match(ua) is None, f"{ua!r} matched {registry.match(ua)}"
        assert looks_like_browser(ua), ua
        assert engine.decide(facts_for(ua)).visitor_class == "human", ua


def test_clients_that_are_not_browsers_are_automation() -> None:
    engine = Judge(CompiledPolicy(load_policy("closed")))
    for ua in ("", "MyScraper", "Mozilla/4.0 (compatible; MSIE 6.0)", "okhttp/4.12.0"):
        assert engine.decide(facts_for(ua)).visitor_class == "automation", ua
