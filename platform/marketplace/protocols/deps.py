"""The protocol doors' state, handed to their routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from marketplace.core.appstate import request_state
from marketplace.protocols.state import ProtocolState


async def get_protocols(request: Request) -> ProtocolState:
    return request_state(request).protocols


ProtocolsDep = Annotated[ProtocolState, Depends(get_protocols)]
