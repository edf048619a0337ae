"""The assistant: a LangChain `create_agent` loop over the platform's tools, one turn per call."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, cast

from langchain.agents import create_agent
from langchain.agents.middleware.types import InputAgentState
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig

from marketplace.decide.assistant.brain import ScriptedChatModel
from marketplace.decide.assistant.memory import ConversationMemory
from marketplace.decide.assistant.tools import AssistantContext, build_tools
from marketplace.decide.summary import SCRIPTED, chat_model

SYSTEM_PROMPT = (
    "You are Nile's shopping assistant, working for one logged-in shopper. Use the tools: "
    "help_me_decide for recommendations (it knows the shopper's own history), search_catalog to "
    "look things up, my_history for what they did, add_to_cart only when they ask to buy or add. "
    "Only state facts that a tool returned; quote the reasons it gave. Be brief."
)
# Tool loops longer than this are cut off (a confused model must not spin forever).
RECURSION_LIMIT = 12

_lock = threading.Lock()


def make_model(llm: str) -> BaseChatModel:
    """The scripted brain, or the LangChain chat model `SANDBOX_LLM` names."""
    if not llm or llm == SCRIPTED:
        return ScriptedChatModel()
    model: BaseChatModel = chat_model(llm)
    return model


@dataclass(frozen=True)
class Action:
    tool: str
    args: dict[str, Any]
    result: str


@dataclass(frozen=True)
class Turn:
    reply: str
    actions: list[Action]


def run_turn(
    ctx: AssistantContext,
    message: str,
    *,
    thread_id: str,
    llm: str,
    memory: ConversationMemory,
) -> Turn:
    """Send one shopper message through the agent; returns the reply and the tools it used.

    The conversation so far comes from `memory` (its last turns) and goes back there with
    this turn added; the agent itself keeps nothing between calls.
    """
    agent = create_agent(make_model(llm), tools=build_tools(ctx), system_prompt=SYSTEM_PROMPT)
    # The memory holds what the agent returned, so every message is one of its own kinds.
    earlier = cast("list[AnyMessage]", memory.history(thread_id))
    state: InputAgentState = {"messages": [*earlier, HumanMessage(content=message)]}
    config: RunnableConfig = {"recursion_limit": RECURSION_LIMIT}
    result = agent.invoke(state, config)
    messages: list[BaseMessage] = result["messages"]
    memory.save(thread_id, messages)
    start = max(i for i, m in enumerate(messages) if isinstance(m, HumanMessage))
    turn = messages[start + 1 :]
    results = {m.tool_call_id: str(m.content) for m in turn if isinstance(m, ToolMessage)}
    actions = [
        Action(call["name"], dict(call["args"]), results.get(str(call["id"]), ""))
        for m in turn
        if isinstance(m, AIMessage)
        for call in m.tool_calls
    ]
    reply = next(
        (str(m.content) for m in reversed(turn) if isinstance(m, AIMessage) and m.content), ""
    )
    return Turn(reply=reply, actions=actions)
