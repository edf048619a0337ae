"""The scripted brain: a LangChain chat model that answers a fixed set of intents with tool calls.

It is the assistant's default, so the whole loop (model -> tool call -> tool -> model -> answer)
runs offline and the same message always gets the same answer. Set `SANDBOX_LLM` to a
`provider:model` string to put a real model in its place.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable

from marketplace.core.ids import is_id
from marketplace.decide.assistant.intents import Intent, read, search_words

HELP = (
    'I can help you choose ("help me choose headphones under $200"), put a pick in your '
    'cart ("add the budget pick to my cart"), search the catalog ("find wireless '
    'earbuds") or recap what you looked at ("what did I look at?").'
)


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _json(message: ToolMessage) -> dict[str, Any]:
    try:
        value = json.loads(str(message.content))
    except ValueError:
        return {"error": str(message.content)}
    return value if isinstance(value, dict) else {"error": str(value)}


def _last_decision(messages: Sequence[BaseMessage]) -> dict[str, Any] | None:
    """The newest successful help_me_decide result in the whole conversation."""
    for message in reversed(messages):
        if isinstance(message, ToolMessage) and message.name == "help_me_decide":
            data = _json(message)
            if "error" not in data:
                return data
    return None


def _describe_decision(data: dict[str, Any]) -> str:
    top = data["top"]
    lines = [
        f"My pick for {data['category_name'].lower()}: {top['title']} at "
        f"{_money(top['price'])} (product {top['id']}). " + "; ".join(top["reasons"][:3]) + "."
    ]
    for role, label in (("budget", "Budget pick"), ("premium", "Premium pick")):
        pick = data.get(role)
        if pick:
            lines.append(
                f"{label}: {pick['title']} at {_money(pick['price'])} (product {pick['id']}). "
                + "; ".join(pick["reasons"][:2])
                + "."
            )
    missing = [n for n in data.get("notes", []) if n.startswith("No ")]
    lines.extend(missing)
    lines.append('Say "add the budget pick to my cart" (or top, or premium) to buy one.')
    return "\n".join(lines)


class ScriptedChatModel(BaseChatModel):
    """Reads the last human message, looks at the tool results so far, and takes the next step."""

    @property
    def _llm_type(self) -> str:
        return "scripted-assistant"

    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        # The script knows its four tools by name; there is no schema to pass on.
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self.next_step(messages))])

    def next_step(self, messages: Sequence[BaseMessage]) -> AIMessage:
        last_human = max(
            (i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=-1
        )
        if last_human < 0:
            return AIMessage(content=HELP)
        text = str(messages[last_human].content)
        turn = [m for m in messages[last_human + 1 :] if isinstance(m, ToolMessage)]
        step = sum(1 for m in messages if isinstance(m, AIMessage))
        intent = read(text)
        done = {str(m.name): _json(m) for m in turn}

        def call(name: str, **args: Any) -> AIMessage:
            return AIMessage(
                content="",
                tool_calls=[{"name": name, "args": args, "id": f"call_{step}_{name}"}],
            )

        if intent.kind == "decide":
            if "help_me_decide" not in done:
                wants_words = intent.category is not None or intent.max_price is not None
                return call(
                    "help_me_decide",
                    category=intent.category,
                    request=text if wants_words else None,
                )
            result = done["help_me_decide"]
            if "error" in result:
                return AIMessage(
                    content=f"I can't pick yet: {result['error']} Or tell me what you're after, "
                    'e.g. "help me choose headphones under $200".'
                )
            return AIMessage(content=_describe_decision(result))
        if intent.kind == "add":
            return self._add(intent, messages, done, call)
        if intent.kind in ("history", "cart"):
            if "my_history" not in done:
                return call("my_history", limit=5)
            return AIMessage(content=self._history(done["my_history"], cart=intent.kind == "cart"))
        if intent.kind == "search":
            if "search_catalog" not in done:
                return call(
                    "search_catalog",
                    query=search_words(text, intent.category),
                    category=intent.category,
                    max_price=intent.max_price,
                )
            return AIMessage(content=self._search(done["search_catalog"]))
        return AIMessage(content=HELP)

    def _add(
        self,
        intent: Intent,
        messages: Sequence[BaseMessage],
        done: dict[str, dict[str, Any]],
        call: Callable[..., AIMessage],
    ) -> AIMessage:
        if "add_to_cart" in done:
            result = done["add_to_cart"]
            if "error" in result:
                return AIMessage(content=f"I couldn't add it: {result['error']}")
            added = result["added"]
            return AIMessage(
                content=f"Added {added['quantity']} x {added['title']} to your cart. Your cart "
                f"now holds {result['cart_items']} item(s), {_money(result['cart_total'])} in all."
            )
        if intent.product_id is not None:
            if not is_id(intent.product_id):
                # Not even a possible id (and too large to pass to a tool or keep in memory).
                return AIMessage(
                    content=f"There is no product {intent.product_id}; ask me to find what you "
                    'want first ("find wireless earbuds") and add it by its product number.'
                )
            return call("add_to_cart", product_id=intent.product_id, quantity=intent.quantity)
        decision = _last_decision(messages)
        if decision is None:
            if "help_me_decide" in done:
                return AIMessage(
                    content=f"I have no pick to add yet: {done['help_me_decide']['error']}"
                )
            # Nothing recommended in this conversation yet: decide first, then add.
            return call("help_me_decide", category=intent.category, request=None)
        role = intent.role or "top"
        pick = decision.get(role)
        if not pick:
            why = next((n for n in decision.get("notes", []) if n.startswith(f"No {role}")), "")
            return AIMessage(content=f"There is no {role} pick to add. {why}".strip())
        return call("add_to_cart", product_id=pick["id"], quantity=intent.quantity)

    @staticmethod
    def _history(data: dict[str, Any], *, cart: bool) -> str:
        basket = data.get("cart", {})
        in_cart = ", ".join(f"{i['quantity']} x {i['title']}" for i in basket.get("items", []))
        cart_line = (
            f"In your cart: {in_cart} ({_money(basket.get('total', 0.0))})."
            if in_cart
            else "Your cart is empty."
        )
        if cart:
            return cart_line
        searches = ", ".join(f'"{s}"' for s in data.get("searches", [])) or "none"
        viewed = "; ".join(f"{v['title']} ({_money(v['price'])})" for v in data.get("viewed", []))
        return (
            f"Your recent searches: {searches}.\nRecently viewed: {viewed or 'nothing yet'}."
            f"\n{cart_line}"
        )

    @staticmethod
    def _search(data: dict[str, Any]) -> str:
        if "error" in data:
            return f"The search didn't work: {data['error']}"
        items = data.get("items", [])
        if not items:
            return "I found nothing that matches; try fewer words."
        lines = [f"I found {data['total']} matches; the first ones in stock:"]
        for item in items:
            ad = " (sponsored)" if item.get("sponsored") else ""
            lines.append(
                f"- {item['title']}: {_money(item['price'])}, {item['rating']:.1f} stars from "
                f"{item['review_count']:,} ratings (product {item['id']}){ad}"
            )
        return "\n".join(lines)
