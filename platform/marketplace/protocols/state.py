"""What the protocol doors share for the app's life, built once by `create_app`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marketplace.protocols.checkout.service import CheckoutCore
from marketplace.protocols.ucp.mcp_tools import McpDoor
from marketplace.protocols.webhooks import OrderWebhooks


@dataclass(eq=False)
class ProtocolState:
    core: CheckoutCore
    webhooks: OrderWebhooks
    mcp: McpDoor
    # None: the UCP simulation endpoints are not mounted at all.
    simulation_secret: str | None
    # The platform's public keys (JWK with `kid`), published in the UCP profile.
    signing_keys: list[dict[str, Any]] = field(default_factory=list)

    def __repr__(self) -> str:  # keeps the simulation secret out of logs
        return f"ProtocolState(simulation={'on' if self.simulation_secret else 'off'})"
