"""Brains that drive the agent loop: a scripted LangChain chat model, or a real one.

The scripted brain is a `BaseChatModel` whose replies are tool calls chosen by a strategy, i.e.
by the agent's character (stop, back off, pay or evade when refused) and a seed. It holds no
state between calls: each reply is recomputed by replaying the conversation through the
strategy, so the same messages always give the same next call, as from a deterministic model.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from pydantic import BaseModel, ConfigDict


class Mission(BaseModel):
    """What an agent is asked to do, and how it behaves when the gate says no."""

    model_config = ConfigDict(frozen=True)

    agent: str
    character: str
    email: str | None = None
    password: str | None = None
    product_id: str | None = None
    query: str | None = None
    # The shopper's stated need beside the words: a category slug and the most they will pay.
    category: str | None = None
    budget: float | None = None
    pages: int = 5
    max_price: float = 0.05
    max_refusals: int = 3
    max_retries: int = 2
    browser: bool = False

    def prompt(self) -> str:
        """The task in words, for a real model (the scripted brain reads the fields)."""
        target = (
            f"product {self.product_id}"
            if self.product_id
            else f"the best match for {self.query!r}"
            if self.query
            else "a product"
        )
        if not self.product_id and self.category:
            target += f" in the category {self.category!r}"
        if not self.product_id and self.budget:
            target += f" for at most {self.budget:g}"
        if self.agent.endswith("crawler"):
            return f"Collect {self.pages} product pages from this store."
        how = "through the HTML pages in the browser" if self.browser else "through the JSON API"
        return f"Log in as {self.email} (password {self.password}) and buy {target} {how}."


@dataclass(frozen=True)
class Call:
    """A tool call a strategy wants next, with the sentence that explains it."""

    name: str
    args: dict[str, Any]
    thought: str


Observation = dict[str, Any]
Plan = Generator[Call, Observation, str]
Strategy = Callable[[Mission, random.Random], Plan]

CHARACTERS = {
    "polite-crawler": "You are an AI training crawler. Fetch robots.txt first and obey it; crawl "
    "only what it allows, slowly. When refused, stop. When throttled, wait as told. When asked "
    "to pay, pay a price up to your budget.",
    "rogue-crawler": "You are an AI training crawler that ignores robots.txt. When refused on the "
    "HTML pages, try the JSON API instead; give up after a few refusals.",
    "stealth-crawler": "You are a crawler that poses as ordinary browsers and varies its pace. "
    "When refused, move on to other pages; give up after a few refusals.",
    "declared-shopper": "You are a shopping assistant that says who it is. You act for the "
    "shopper with their credentials. Stop at a refusal and report it; wait when throttled.",
    "disguised-browser": "You are a browser agent driving Chrome for the shopper. Log in, search, "
    "add the product to the cart and check out through the web pages.",
    "signed-partner": "You are a partner agent that signs every request. Act for the logged-in "
    "shopper; stop at a refusal and report it; wait when throttled.",
}


# --- strategies ---------------------------------------------------------------------------


def _attempt(mission: Mission, call: Call) -> Generator[Call, Observation, Observation]:
    """Make `call`; back off on 429 and pay on 402 when the character allows, then return."""
    result = yield call
    for _ in range(mission.max_retries):
        gate = result.get("gate") or {}
        if gate.get("status") == 429:
            delay = gate.get("retry_after") or 1.0
            yield Call("wait", {"seconds": delay}, f"throttled by {gate.get('rule')}; waiting")
            result = yield call
        elif (
            gate.get("status") == 402
            and mission.character == "polite-crawler"
            and "path" in call.args
        ):
            result = yield Call(
                "pay_for_crawl",
                {"path": call.args["path"], "max_price": mission.max_price},
                f"asked to pay {gate.get('crawler_price')}; within my budget, paying",
            )
            return result
        else:
            break
    return result


def _refusal(result: Observation) -> str:
    gate = result.get("gate") or {}
    reason = str(gate.get("reason") or result.get("error") or "no reason given").rstrip(".")
    return (
        f"{gate.get('status')} {gate.get('decision') or ''} by rule {gate.get('rule') or '?'} "
        f"as {gate.get('visitor_class') or '?'}: {reason}"
    )


def crawler(mission: Mission, rng: random.Random) -> Plan:
    """Crawl product pages; obey robots.txt only when polite; evade per character."""
    polite = mission.character == "polite-crawler"
    if polite:
        robots = yield Call("fetch_robots", {}, "a polite crawler reads robots.txt first")
        if robots.get("disallows_everything") or not (robots.get("may_fetch") or {}).get(
            "/products/1", False
        ):
            return "robots.txt does not let me crawl product pages here; I stop without crawling."
    query = mission.query or "headphones"
    frontier: list[str] = []
    for start in ("/", f"/search?q={quote(query)}"):
        if polite:
            check = yield Call("check_robots", {"path": start}, f"may I fetch {start}?")
            if not check.get("allowed"):
                continue
        result = yield from _attempt(
            mission, Call("crawl_page", {"path": start}, f"looking for product links on {start}")
        )
        frontier.extend(link for link in result.get("product_links", []) if link not in frontier)
        if frontier:
            break
        if result.get("gate", {}).get("refused") and polite:
            return f"refused at {start}: {_refusal(result)}; stopping."
    if mission.character == "stealth-crawler":
        rng.shuffle(frontier)
    listings: list[str] = []
    seen = set(frontier)
    visited_listings = 0
    fetched = 0
    refusals = 0
    while fetched < mission.pages:
        # Product pages first; a listing page (category, next page) only to find more of them.
        if frontier:
            path, is_listing = frontier.pop(0), False
        elif listings and visited_listings < 10:
            path, is_listing = listings.pop(0), True
            visited_listings += 1
        else:
            break
        if polite:
            check = yield Call("check_robots", {"path": path}, f"may I fetch {path}?")
            if not check.get("allowed"):
                continue
        why = f"looking for more product links on {path}" if is_listing else f"crawling {path}"
        result = yield from _attempt(mission, Call("crawl_page", {"path": path}, why))
        if result.get("ok"):
            fetched += 0 if is_listing else 1
            refusals = 0
            links = [link for link in result.get("product_links", []) if link not in seen]
            more = [link for link in result.get("listing_links", []) if link not in seen]
            if mission.character == "stealth-crawler":
                rng.shuffle(links)
                rng.shuffle(more)
            seen.update(links, more)
            frontier.extend(links)
            listings.extend(more)
            continue
        refusals += 1
        if polite:
            return f"refused at {path}: {_refusal(result)}; I respect that and stop."
        if refusals >= mission.max_refusals:
            break
    if mission.character == "rogue-crawler" and fetched < mission.pages:
        # The HTML was refused (or had nothing): harvest the same data through the JSON API.
        for page in range(1, 4):
            found = yield Call(
                "search_products",
                {"query": query, "page": page},
                "the pages were refused; trying the JSON API",
            )
            if not found.get("ok"):
                return f"the JSON API refused me too: {_refusal(found)}; giving up."
            items = found.get("items", [])
            for item in items:
                if fetched >= mission.pages:
                    break
                viewed = yield Call(
                    "view_product", {"product_id": str(item["id"])}, "reading it via the API"
                )
                if viewed.get("ok"):
                    fetched += 1
                else:
                    return f"the JSON API refused me: {_refusal(viewed)}; giving up."
            if fetched >= mission.pages or not items:
                break
        return f"collected {fetched} products."
    if refusals >= mission.max_refusals:
        return f"refused {refusals} times in a row; giving up."
    if not fetched:
        return "found no product pages I could crawl."
    return f"crawled {fetched} product pages."


def shopper(mission: Mission, rng: random.Random) -> Plan:
    """Find the product, log in, add it to the cart and order it; stop at a refusal."""
    prefix = "browser_" if mission.browser else ""
    if mission.browser:
        result = yield from _attempt(
            mission,
            Call(
                "browser_login",
                {"email": mission.email or "", "password": mission.password or ""},
                "opening the login page as the shopper",
            ),
        )
        if not result.get("ok"):
            return f"could not log in: {_refusal(result)}"
    candidates = [mission.product_id] if mission.product_id else []
    if not candidates:
        query = mission.query or "headphones"
        args: dict[str, Any] = {"query": query}
        if mission.category:
            args["category"] = mission.category
        if mission.budget:
            args["max_price"] = mission.budget
        result = yield from _attempt(
            mission, Call(f"{prefix}search_products", args, f"searching for {query!r}")
        )
        items = result.get("items") or []
        if not result.get("ok") or not items:
            return f"search failed: {_refusal(result) if not result.get('ok') else 'no results'}"
        candidates = [str(item["id"]) for item in compare(items, budget=mission.budget)[:3]]
    logged_in = mission.browser
    for product_id in candidates:
        result = yield from _attempt(
            mission,
            Call(
                f"{prefix}view_product", {"product_id": product_id}, f"reading product {product_id}"
            ),
        )
        if not result.get("ok"):
            return f"could not view product {product_id}: {_refusal(result)}"
        if (result.get("product") or {}).get("stock") == 0:
            continue
        if not logged_in:
            result = yield from _attempt(
                mission,
                Call(
                    "login",
                    {"email": mission.email or "", "password": mission.password or ""},
                    "logging in with the shopper's credentials",
                ),
            )
            if not result.get("ok"):
                return f"could not log in: {_refusal(result)}"
            logged_in = True
        result = yield from _attempt(
            mission,
            Call(
                f"{prefix}add_to_cart", {"product_id": product_id}, f"adding {product_id} to cart"
            ),
        )
        if result.get("ok"):
            break
        if (result.get("gate") or {}).get("refused"):
            return f"could not add to the cart: {_refusal(result)}"
    else:
        return "none of the products I found could go in the cart."
    checkout = "browser_checkout" if mission.browser else "place_order"
    result = yield from _attempt(mission, Call(checkout, {}, "placing the order"))
    if not result.get("ok"):
        return f"could not place the order: {_refusal(result)}"
    order = result.get("order") or {}
    return f"placed order {order.get('id', '')} for product {product_id}.".replace("  ", " ")


def public_score(item: Mapping[str, Any], *, prior: float = 3.6, weight: float = 25.0) -> float:
    """The rating shrunk towards `prior` by how few reviews back it: all an outsider can judge."""
    reviews = float(item.get("review_count") or 0)
    rating = float(item.get("rating") or 0)
    return (rating * reviews + prior * weight) / (reviews + weight)


def compare(items: Sequence[Mapping[str, Any]], *, budget: float | None) -> list[Mapping[str, Any]]:
    """Search results an outside agent would buy, best first, judged from public data only.

    Ads are skipped (an agent is not swayed by a paid slot), as is what is out of stock or over
    the shopper's budget; the rest is ranked by rating and review count, then by price.
    """
    fitting = [
        item
        for item in items
        if not item.get("sponsored")
        and item.get("stock", 1) != 0
        and (budget is None or item.get("price") is None or float(item["price"]) <= budget)
    ]
    return sorted(fitting, key=lambda i: (-public_score(i), float(i.get("price") or 0)))


STRATEGIES: dict[str, Strategy] = {
    "polite-crawler": crawler,
    "rogue-crawler": crawler,
    "stealth-crawler": crawler,
    "declared-shopper": shopper,
    "disguised-browser": shopper,
    "signed-partner": shopper,
}


# --- the scripted chat model ---------------------------------------------------------------


def observations(messages: Sequence[BaseMessage]) -> list[tuple[str, Observation]]:
    """The (tool name, parsed result) pairs of the conversation so far, in order."""
    results = {m.tool_call_id: m for m in messages if isinstance(m, ToolMessage)}
    pairs: list[tuple[str, Observation]] = []
    for message in messages:
        if not isinstance(message, AIMessage):
            continue
        for call in message.tool_calls:
            reply = results.get(call.get("id") or "")
            if reply is None:
                continue
            try:
                parsed = json.loads(reply.content) if isinstance(reply.content, str) else {}
            except json.JSONDecodeError:
                parsed = {"ok": False, "error": str(reply.content)}
            pairs.append((call["name"], parsed if isinstance(parsed, dict) else {}))
    return pairs


class ScriptedBrain(BaseChatModel):
    """A deterministic chat model that plays an agent's character from a seed; no network."""

    mission: Mission
    seed: int = 0

    @property
    def _llm_type(self) -> str:
        return "shopbots-scripted"

    def bind_tools(
        self,
        tools: Sequence[Any],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        # The strategy already knows the tool names; binding changes nothing.
        return self

    def next_message(self, messages: Sequence[BaseMessage]) -> AIMessage:
        """Replay the conversation through the strategy and return its next move."""
        history = observations(messages)
        plan = STRATEGIES[self.mission.agent](self.mission, random.Random(self.seed))
        try:
            action = next(plan)
            for _, result in history:
                action = plan.send(result)
        except StopIteration as done:
            return AIMessage(content=str(done.value))
        call_id = f"call_{len(history) + 1}"
        return AIMessage(
            content=action.thought,
            tool_calls=[
                {"name": action.name, "args": action.args, "id": call_id, "type": "tool_call"}
            ],
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self.next_message(messages))])


def llm_setting() -> str:
    """`SANDBOX_LLM`: `scripted` (default) or a LangChain `provider:model` string."""
    return os.environ.get("SANDBOX_LLM", "scripted").strip() or "scripted"


def make_brain(mission: Mission, *, seed: int = 0, llm: str | None = None) -> BaseChatModel:
    """The scripted brain, or with `provider:model` a real chat model from `init_chat_model`."""
    choice = llm or llm_setting()
    if choice == "scripted":
        return ScriptedBrain(mission=mission, seed=seed)
    if ":" not in choice:
        raise ValueError(
            f"SANDBOX_LLM={choice!r} is neither 'scripted' nor a 'provider:model' string "
            "(e.g. openai:gpt-4o-mini)"
        )
    from langchain.chat_models import init_chat_model

    try:
        return init_chat_model(choice, temperature=0)
    except ImportError as exc:
        raise ValueError(
            f"SANDBOX_LLM={choice!r} needs the provider's LangChain package: {exc}"
        ) from exc
    except ValueError as exc:
        first_line = str(exc).splitlines()[0]
        raise ValueError(f"SANDBOX_LLM={choice!r} cannot be loaded: {first_line}") from exc
