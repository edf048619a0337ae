"""The protocol shopper: buys the way 2026's agents do, through a commerce protocol, over HTTP only.

`protocol-shopper` reads the store's UCP profile (`/.well-known/ucp`), finds the item, then opens a
checkout session on the REST endpoint the profile names, gives a shipping address, picks the
cheapest option and completes with the store's (simulated) payment handler.
`protocol-shopper-mcp` does the same through the MCP endpoint the profile names, with the official
`mcp` SDK client over Streamable HTTP. Both sign every request with Web Bot Auth, so the gate
knows them as the registered partner they are; every answer is recorded like any agent's.
"""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from shopbots.client import AgentClient, Step
from shopbots.gate import parse_parts
from shopbots.loops import run_in_own_loop
from shopbots.tools import Record

SHOPPING = "dev.ucp.shopping"
UCP_VERSION = "2026-01-11"
PAYMENT_HANDLER = "mock_payment_handler"
# The store's mock handler approves any token but those starting with "fail".
TEST_TOKEN = "tok_protocol_shopper"  # noqa: S105 - a simulated payment token, not a secret
ADDRESS = {
    "first_name": "Sam",
    "last_name": "Shopper",
    "street_address": "1 Protocol Way",
    "address_locality": "Springfield",
    "address_region": "IL",
    "postal_code": "62701",
    "address_country": "US",
}


class ProtocolStop(Exception):
    """The purchase cannot go on; the message says where and why (the record has the refusal)."""


def _path(url: str) -> str:
    return urlsplit(url).path.rstrip("/") or ""


def discover(client: AgentClient, record: Record) -> tuple[str, str]:
    """The UCP REST and MCP endpoint paths the store's profile names."""
    found = client.get("/.well-known/ucp", note="read the store's UCP profile")
    if found.answer.refused:
        record.refusals.append(found.answer)
    profile = found.json()
    if not found.answer.ok or not isinstance(profile, dict):
        raise ProtocolStop(f"no UCP profile: {found.answer.summary()}")
    service = profile.get("ucp", {}).get("services", {}).get(SHOPPING, {})
    rest = service.get("rest", {}).get("endpoint")
    mcp = service.get("mcp", {}).get("endpoint")
    if not isinstance(rest, str) or not isinstance(mcp, str):
        raise ProtocolStop("the UCP profile names no REST or MCP endpoint for shopping")
    return _path(rest), _path(mcp)


def choose_item(client: AgentClient, record: Record, product: str | None) -> str:
    """The catalog id to buy: the product asked for, else the first in stock matching it."""
    if product and product.isdigit():
        return product
    params: dict[str, Any] = {"page_size": 20}
    if product:
        params["q"] = product
    listed = client.get("/api/v1/products", params=params, note="find the item")
    if listed.answer.refused:
        record.refusals.append(listed.answer)
        raise ProtocolStop(f"catalog refused: {listed.answer.summary()}")
    for item in (listed.json() or {}).get("items", []):
        detail = client.get(f"/api/v1/products/{item['id']}", note="check the stock")
        if detail.answer.ok and (detail.json() or {}).get("stock", 0) > 0:
            return str(item["id"])
    raise ProtocolStop("nothing in stock matched the need")


def _send(
    client: AgentClient, record: Record, method: str, path: str, body: dict[str, Any], note: str
) -> dict[str, Any]:
    answer = client.request(
        method,
        path,
        json=body,
        headers={
            "idempotency-key": str(uuid.uuid4()),
            "ucp-agent": f'version="{UCP_VERSION}"',
            "content-type": "application/json",
        },
        note=note,
    )
    if answer.answer.refused:
        record.refusals.append(answer.answer)
    found = answer.json()
    if not answer.answer.ok or not isinstance(found, dict):
        raise ProtocolStop(f"{note}: {answer.answer.summary()}")
    return found


def buy_over_rest(client: AgentClient, record: Record, rest: str, item: str, email: str) -> None:
    """Open a UCP checkout on the REST binding, ship it, pay it; the order goes on the record."""
    buyer = {"email": email, "first_name": "Sam", "last_name": "Shopper"}
    method = {"type": "shipping", "destinations": [{"id": "home", **ADDRESS}]}
    checkout = _send(
        client,
        record,
        "POST",
        f"{rest}/checkout-sessions",
        {
            "currency": "USD",
            "line_items": [{"item": {"id": item}, "quantity": 1}],
            "buyer": buyer,
            "fulfillment": {"methods": [{**method, "selected_destination_id": "home"}]},
        },
        "open a UCP checkout session",
    )
    chosen = checkout["fulfillment"]["methods"][0]
    cheapest = chosen["groups"][0]["options"][0]["id"]
    checkout = _send(
        client,
        record,
        "PUT",
        f"{rest}/checkout-sessions/{checkout['id']}",
        {
            "fulfillment": {
                "methods": [{"id": chosen["id"], "groups": [{"selected_option_id": cheapest}]}]
            }
        },
        "pick the cheapest shipping option",
    )
    if checkout.get("status") != "ready_for_complete":
        raise ProtocolStop(f"the checkout is {checkout.get('status')}, not ready to complete")
    done = _send(
        client,
        record,
        "POST",
        f"{rest}/checkout-sessions/{checkout['id']}/complete",
        {
            "payment_data": {
                "handler_id": PAYMENT_HANDLER,
                "credential": {"type": "token", "token": TEST_TOKEN},
            }
        },
        "complete the checkout",
    )
    order = done.get("order") or {}
    record.orders.append({"id": order.get("id"), "via": "ucp", "checkout": done.get("id")})
    record.cart_items.append(item)


def _structured(result: Any, what: str) -> dict[str, Any]:
    if result.is_error:
        text = result.content[0].text if result.content else "no reason given"
        raise ProtocolStop(f"{what}: {text[:200]}")
    data: dict[str, Any] = result.structured_content or {}
    return data


def buy_over_mcp(client: AgentClient, record: Record, mcp: str, item: str, email: str) -> None:
    """The same purchase through the store's MCP tools (the official `mcp` SDK client)."""

    async def record_answer(response: httpx2.Response) -> None:
        await response.aread()
        answer = parse_parts(response.status_code, response.headers, response.text)
        if answer.refused:
            record.refusals.append(answer)
        request = response.request
        client.steps.append(
            Step(
                index=len(client.steps) + 1,
                method=request.method,
                path=request.url.path,
                answer=answer,
                user_agent=request.headers.get("user-agent", ""),
                signed=client.signer is not None,
                note="MCP over Streamable HTTP",
                answered_path=request.url.path,
            )
        )

    async def sign(request: httpx2.Request) -> None:
        request.headers["user-agent"] = client.identity.next_user_agent()
        if client.signer is not None:
            client.signer.sign(request)  # type: ignore[arg-type]  # same shape as httpx's

    async def shop() -> None:
        http = httpx2.AsyncClient(
            event_hooks={"request": [sign], "response": [record_answer]},
            timeout=httpx2.Timeout(30.0, read=120.0),
        )
        async with (
            http,
            Client(streamable_http_client(client.base_url + mcp, http_client=http)) as session,
        ):
            tools = {tool.name for tool in (await session.list_tools()).tools}
            if "create_checkout" not in tools:
                raise ProtocolStop("the MCP server offers no create_checkout tool")
            checkout = _structured(
                await session.call_tool(
                    "create_checkout",
                    {
                        "line_items": [{"item_id": item, "quantity": 1}],
                        "buyer_email": email,
                        "shipping_address": {
                            k: v for k, v in ADDRESS.items() if not k.endswith("_name")
                        },
                    },
                ),
                "create_checkout",
            )
            group = checkout["fulfillment"]["methods"][0]["groups"][0]
            ready = _structured(
                await session.call_tool(
                    "update_checkout",
                    {
                        "checkout_id": checkout["id"],
                        "selected_option_id": group["options"][0]["id"],
                    },
                ),
                "update_checkout",
            )
            if ready.get("status") != "ready_for_complete":
                raise ProtocolStop(f"the checkout is {ready.get('status')}, not ready")
            done = _structured(
                await session.call_tool(
                    "complete_checkout",
                    {"checkout_id": checkout["id"], "payment_token": TEST_TOKEN},
                ),
                "complete_checkout",
            )
            order = done.get("order") or {}
            record.orders.append({"id": order.get("id"), "via": "mcp", "checkout": done.get("id")})
            record.cart_items.append(item)

    try:
        run_in_own_loop(shop)
    except ProtocolStop:
        raise
    except Exception as exc:  # a refusal surfaces as a transport error in the SDK
        refusal = record.first_refusal
        if refusal is not None:
            raise ProtocolStop(f"MCP refused: {refusal.summary()}") from exc
        raise ProtocolStop(f"MCP failed: {type(exc).__name__}: {exc}") from exc


def run_protocol_shopper(
    client: AgentClient, *, via: str, product: str | None, email: str | None
) -> tuple[Record, str]:
    """Buy one item through UCP (`via="ucp"`) or MCP (`via="mcp"`); the record and a summary."""
    record = Record()
    started = time.monotonic()
    try:
        rest, mcp = discover(client, record)
        item = choose_item(client, record, product)
        buyer = email or "protocol-shopper@example.com"
        if via == "mcp":
            buy_over_mcp(client, record, mcp, item, buyer)
        else:
            buy_over_rest(client, record, rest, item, buyer)
    except ProtocolStop as stop:
        return record, str(stop)
    order = record.orders[-1]
    return record, (
        f"bought item {item} through {via.upper()}: order {order['id']} "
        f"({time.monotonic() - started:.1f} s)"
    )
