"""Help Me Decide's parts for routes: its configuration and the assistant's conversations."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from marketplace.core.appstate import request_state
from marketplace.decide.assistant.memory import ConversationMemory
from marketplace.decide.config import DecideConfig


async def decide_config(request: Request) -> DecideConfig:
    return request_state(request).decide_config


async def assistant_memory(request: Request) -> ConversationMemory:
    return request_state(request).assistant_memory


DecideConfigDep = Annotated[DecideConfig, Depends(decide_config)]
AssistantMemoryDep = Annotated[ConversationMemory, Depends(assistant_memory)]
