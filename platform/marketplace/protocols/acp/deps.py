"""The ACP adapter's long-lived parts (built once by `build_state`) and who is calling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from marketplace.core.appstate import request_state
from marketplace.protocols.acp.webhooks import OrderEventSender
from marketplace.protocols.checkout.service import CheckoutCore


@dataclass(eq=False)
class AcpState:
    """The checkout core ACP works on, the order-event sender, the fallback webhook."""

    core: CheckoutCore
    events: OrderEventSender
    webhook_url: str | None
    webhook_secret: str


async def get_acp(request: Request) -> AcpState:
    return request_state(request).acp


async def verified_partner(request: Request) -> str | None:
    """The registered partner whose Web Bot Auth signature the gate verified, if any."""
    state = request.scope.get("state") or {}
    if state.get("visitor_class") != "verified-agent":
        return None
    decision = state.get("gate_decision")
    agent = getattr(decision, "agent", None)
    return agent if isinstance(agent, str) and agent else None


AcpDep = Annotated[AcpState, Depends(get_acp)]
PartnerDep = Annotated[str | None, Depends(verified_partner)]
