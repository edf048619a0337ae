"""The agent loop: ask the brain, run the tool calls it makes, feed the results back, repeat.

Written as a plain loop over LangChain messages rather than a graph runtime so every tool runs on
the caller's thread: the browser agent's Playwright page is bound to the thread that opened it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import BaseTool

ThoughtListener = Callable[[AIMessage], None]


@dataclass
class LoopResult:
    """The whole conversation and the brain's closing words."""

    messages: list[BaseMessage] = field(default_factory=list)
    final: str = ""
    turns: int = 0
    exhausted: bool = False


def run_loop(
    model: BaseChatModel,
    tools: Sequence[BaseTool],
    *,
    system: str,
    task: str,
    max_turns: int = 40,
    on_thought: ThoughtListener | None = None,
) -> LoopResult:
    """Run `model` with `tools` on `task` until it answers without a tool call."""
    by_name = {tool.name: tool for tool in tools}
    bound = model.bind_tools(list(tools))
    result = LoopResult(messages=[SystemMessage(system), HumanMessage(task)])
    for turn in range(1, max_turns + 1):
        reply = bound.invoke(result.messages)
        if not isinstance(reply, AIMessage):
            reply = AIMessage(content=str(reply.content))
        result.messages.append(reply)
        result.turns = turn
        if on_thought:
            on_thought(reply)
        if not reply.tool_calls:
            result.final = reply.text
            return result
        for call in reply.tool_calls:
            tool = by_name.get(call["name"])
            if tool is None:
                result.messages.append(
                    ToolMessage(
                        content=f'{{"ok": false, "error": "no tool named {call["name"]}"}}',
                        tool_call_id=call.get("id") or "",
                        name=call["name"],
                    )
                )
                continue
            message = tool.invoke(call)
            if not isinstance(message, ToolMessage):
                message = ToolMessage(content=str(message), tool_call_id=call.get("id") or "")
            result.messages.append(message)
    result.exhausted = True
    result.final = f"stopped after {max_turns} turns without finishing"
    return result
