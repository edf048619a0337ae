"""The agent loop: the scripted brain and a fake chat model drive the same loop and tools."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import Runnable

from shopbots.brains import Mission, ScriptedBrain, make_brain
from shopbots.roster import RunOptions, run_agent
from tests.shopbots.fakeplatform import FakePlatform


class ToolCallingFake(GenericFakeChatModel):
    """langchain_core's fake chat model, with the tool binding the loop asks every model for."""

    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: str | None = None, **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        return self


def call(name: str, n: int, **args: Any) -> AIMessage:
    return AIMessage(
        content="", tool_calls=[{"name": name, "args": args, "id": f"f{n}", "type": "tool_call"}]
    )


def options(platform: FakePlatform, **extra: Any) -> RunOptions:
    return RunOptions(
        target="http://shop.test",
        email="shopper@example.test",
        password="pw",
        product="3",
        fast=True,
        transport=platform.transport(),
        **extra,
    )


def test_scripted_brain_buys_through_the_loop() -> None:
    platform = FakePlatform()
    run = run_agent("declared-shopper", options(platform))
    assert run.succeeded, run.final
    assert platform.orders
    assert run.record.orders[0]["id"] == 1
    assert [s.path for s in run.steps] == [
        "/api/v1/products/3",
        "/api/v1/sessions",
        "/api/v1/cart/items",
        "/api/v1/orders",
    ]


def test_a_fake_chat_model_drives_the_same_loop() -> None:
    platform = FakePlatform()
    script = iter(
        [
            call("view_product", 1, product_id="3"),
            call("login", 2, email="shopper@example.test", password="pw"),
            call("add_to_cart", 3, product_id="3"),
            call("place_order", 4),
            AIMessage(content="Bought product 3."),
        ]
    )
    run = run_agent("declared-shopper", options(platform, brain=ToolCallingFake(messages=script)))
    assert run.succeeded
    assert run.final == "Bought product 3."
    assert [s.path for s in run.steps][-1] == "/api/v1/orders"


def test_fake_model_cannot_claim_success_the_tools_did_not_record() -> None:
    platform = FakePlatform()
    script = iter([AIMessage(content="I placed the order, trust me.")])
    run = run_agent("declared-shopper", options(platform, brain=ToolCallingFake(messages=script)))
    assert not run.succeeded
    assert run.steps == []


def test_refusal_is_a_tool_result_the_shopper_stops_at() -> None:
    platform = FakePlatform(refuse={"/api/v1/sessions": (403, "block", "closed.agents-account")})
    run = run_agent("declared-shopper", options(platform))
    assert not run.succeeded
    assert run.first_refusal is not None
    assert run.first_refusal.rule == "closed.agents-account"
    assert "could not log in" in run.final
    assert "closed.agents-account" in run.final
    assert not any(r.url.path == "/api/v1/orders" for r in platform.requests)


def test_throttle_is_waited_out_then_retried() -> None:
    platform = FakePlatform(throttle_once={"/api/v1/cart"})
    run = run_agent("declared-shopper", options(platform))
    assert run.succeeded
    paths = [s.path for s in run.steps]
    assert paths.count("/api/v1/cart/items") == 2


def test_scripted_brain_is_deterministic_from_the_seed() -> None:
    first = run_agent("stealth-crawler", options(FakePlatform(), seed=11))
    second = run_agent("stealth-crawler", options(FakePlatform(), seed=11))
    other = run_agent("stealth-crawler", options(FakePlatform(), seed=12))
    assert [s.path for s in first.steps] == [s.path for s in second.steps]
    assert [s.user_agent for s in first.steps] == [s.user_agent for s in second.steps]
    assert [s.user_agent for s in first.steps] != [s.user_agent for s in other.steps]


def test_polite_crawler_obeys_robots_and_pays() -> None:
    blocked = FakePlatform(robots="User-agent: GPTBot\nDisallow: /\n")
    run = run_agent("polite-crawler", options(blocked))
    assert not run.succeeded
    assert [s.path for s in run.steps] == ["/robots.txt"]

    priced = FakePlatform(refuse={"/products/": (402, "pay", "ppc.crawl-price")})
    run = run_agent("polite-crawler", options(priced))
    assert run.succeeded, run.final
    assert len(run.record.payments) == 5
    # One 402 answered with crawler-exact-price, then a standing crawler-max-price offer.
    assert sum(1 for r in priced.requests if "crawler-exact-price" in r.headers) == 1
    paid = [
        r for r in priced.requests if {"crawler-exact-price", "crawler-max-price"} & set(r.headers)
    ]
    assert paid
    assert all("signature" in r.headers for r in paid)
    unpaid = [r for r in priced.requests if r not in paid]
    assert all("signature" not in r.headers for r in unpaid)


def test_rogue_crawler_ignores_robots_and_falls_back_to_the_api() -> None:
    platform = FakePlatform(
        robots="User-agent: GPTBot\nDisallow: /\n",
        refuse={"/products/": (403, "block", "closed.crawlers")},
    )
    run = run_agent("rogue-crawler", options(platform))
    paths = [s.path for s in run.steps]
    assert "/robots.txt" not in paths
    assert any(p.startswith("/api/v1/products") for p in paths)


def test_scripted_brain_replays_to_the_same_next_call() -> None:
    brain = ScriptedBrain(mission=Mission(agent="polite-crawler", character="polite-crawler"))
    first = brain.invoke("go")
    assert first.tool_calls[0]["name"] == "fetch_robots"
    assert brain.invoke("go").tool_calls == first.tool_calls


def test_sandbox_llm_selects_the_brain(monkeypatch: pytest.MonkeyPatch) -> None:
    mission = Mission(agent="declared-shopper", character="declared-shopper")
    monkeypatch.delenv("SANDBOX_LLM", raising=False)
    assert isinstance(make_brain(mission), ScriptedBrain)
    monkeypatch.setenv("SANDBOX_LLM", "gpt-without-provider")
    with pytest.raises(ValueError, match="provider:model"):
        make_brain(mission)
    with pytest.raises(ValueError, match="SANDBOX_LLM"):
        make_brain(mission, llm="no-such-provider-xyz:some-model")


def test_scripted_brain_also_drives_langchains_create_agent() -> None:
    # It is an ordinary chat model: LangChain's own agent runtime can run it with the same tools.
    from langchain.agents import create_agent

    from shopbots.brains import CHARACTERS
    from shopbots.roster import build_client, mission_for
    from shopbots.tools import ToolContext, build_http_tools

    platform = FakePlatform()
    run_options = options(platform)
    context = ToolContext(build_client("declared-shopper", run_options))
    mission = mission_for("declared-shopper", run_options)
    graph = create_agent(
        ScriptedBrain(mission=mission),
        build_http_tools(context),
        system_prompt=CHARACTERS["declared-shopper"],
    )
    state = graph.invoke({"messages": [{"role": "user", "content": mission.prompt()}]})
    assert state["messages"][-1].content == "placed order 1 for product 3."
    assert context.record.orders == platform.orders
