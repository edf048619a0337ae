"""For the gate's routes: its runtime (the active policy, the decision log, the metrics) and the
key a request is signed with."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from marketplace.core.appstate import request_state
from marketplace.core.errors import Unauthorized
from marketplace.gate.agentlog import verified_keyid
from marketplace.gate.judge import SIGN_HOW
from marketplace.gate.runtime import GateRuntime


async def get_gate_runtime(request: Request) -> GateRuntime:
    return request_state(request).gate


GateRuntimeDep = Annotated[GateRuntime, Depends(get_gate_runtime)]


async def require_signed_key(request: Request) -> str:
    """The keyid of the request's verified Web Bot Auth signature; 401 without one."""
    keyid = verified_keyid(getattr(request.state, "gate_decision", None))
    if keyid is None:
        raise Unauthorized(
            "This endpoint lists the decisions on one key's requests, so it answers only a "
            f"request whose signature verified with a registered key: {SIGN_HOW}. A request "
            "whose signature fails is listed there once a verified request asks.",
            type_slug="signature-required",
            title="Sign with a registered key",
        )
    return keyid


SignedKeyDep = Annotated[str, Depends(require_signed_key)]
