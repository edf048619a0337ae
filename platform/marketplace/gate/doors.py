"""Which door a request came through (the store's pages, its REST API, UCP, ACP or MCP), and
what an MCP call does.

The door decides the shape of a refusal (gate/refusals.py) and is logged with every decision, so
the dashboard can tell the protocol traffic apart. MCP has one path for everything, so the gate
reads the JSON-RPC call itself: listing tools and calling a catalog tool is `protocol-catalog`,
any other tool call (a checkout, an order) `protocol-checkout`. Unknown tools count as checkout:
a new tool is refused where checkouts are until it is named here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, get_args

Door = Literal["web", "api", "ucp", "acp", "mcp"]
DOORS: tuple[str, ...] = get_args(Door)

MCP_PATH = "/mcp"
# Tools that only read the catalog; every other tool call is classed protocol-checkout.
MCP_CATALOG_TOOLS = frozenset(
    {
        "search_catalog",
        "search_products",
        "lookup_catalog",
        "list_products",
        "get_product",
        "get_products",
    }
)
# JSON-RPC methods that change nothing in the store (the session handshake, listings, pings).
MCP_CALL = "tools/call"


def door_of(path: str) -> Door:
    """The door of a canonical path."""
    if path.startswith("/api/"):
        return "api"
    if path == "/ucp" or path.startswith(("/ucp/", "/.well-known/ucp")):
        return "ucp"
    if path == "/checkout_sessions" or path.startswith("/checkout_sessions/"):
        return "acp"
    if path == MCP_PATH or path.startswith(MCP_PATH + "/"):
        return "mcp"
    return "web"


@dataclass(frozen=True)
class McpCall:
    """What the gate read of one MCP request body: the route class it deserves, and the id to
    answer a refusal with (None for notifications and bodies that do not parse)."""

    route_class: str
    request_id: Any = None
    tools: tuple[str, ...] = ()


def classify_mcp(body: bytes) -> McpCall:
    """The route class of an MCP POST body (one JSON-RPC message or a batch)."""
    try:
        message = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        # Not JSON-RPC: the MCP server answers it with a parse error; nothing is bought.
        return McpCall("protocol-catalog")
    messages = message if isinstance(message, list) else [message]
    checkout = False
    tools: list[str] = []
    request_id: Any = None
    for item in messages:
        if not isinstance(item, dict):
            continue
        if request_id is None and isinstance(item.get("id"), str | int):
            request_id = item["id"]
        if item.get("method") != MCP_CALL:
            continue
        params = item.get("params")
        name = params.get("name") if isinstance(params, dict) else None
        tool = name if isinstance(name, str) else ""
        tools.append(tool[:64])
        if tool not in MCP_CATALOG_TOOLS:
            checkout = True
    return McpCall(
        "protocol-checkout" if checkout else "protocol-catalog", request_id, tuple(tools)
    )
