"""The gate's runtime for routes: the active policy, the decision log and the metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from marketplace.core.appstate import request_state
from marketplace.gate.runtime import GateRuntime


async def get_gate_runtime(request: Request) -> GateRuntime:
    return request_state(request).gate


GateRuntimeDep = Annotated[GateRuntime, Depends(get_gate_runtime)]
