"""UCP's MCP binding, driven by the official `mcp` SDK client over Streamable HTTP."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from sqlalchemy import select

from marketplace.app import create_app
from marketplace.core.clock import FrozenClock
from marketplace.core.db import Database
from marketplace.core.settings import Settings
from marketplace.orders.models import Order
from sandbox.liveserver import LiveServer
from shopbots.loops import run_in_own_loop
from tests.marketplace.protocols._ucp import load_shop

ADDRESS = {"street_address": "9 Elm St", "postal_code": "10001", "address_country": "US"}


@pytest.fixture(autouse=True)
def shop(database: Database, tmp_path: Path) -> None:
    load_shop(database, tmp_path / "shop")


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    data: dict[str, Any] = result.structured_content
    return data


def test_an_agent_lists_the_tools_and_buys_through_mcp(
    live_server: LiveServer, database: Database
) -> None:
    async def shop_over_mcp() -> dict[str, Any]:
        async with Client(f"{live_server.url}/mcp") as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
            assert {
                "search_catalog",
                "get_product",
                "create_checkout",
                "update_checkout",
                "complete_checkout",
                "get_order",
            } <= tools
            found = structured(await client.call_tool("search_catalog", {"query": "tulip"}))
            assert found["items"][0]["title"] == "Tulip Bunch"
            product = structured(await client.call_tool("get_product", {"item_id": "tulip"}))
            assert (product["price"], product["stock"]) == (3000, 20)

            checkout = structured(
                await client.call_tool(
                    "create_checkout",
                    {
                        "line_items": [{"item_id": found["items"][0]["id"], "quantity": 2}],
                        "shipping_address": ADDRESS,
                    },
                )
            )
            group = checkout["fulfillment"]["methods"][0]["groups"][0]
            assert checkout["status"] == "incomplete"
            express = next(o["id"] for o in group["options"] if o["id"] == "exp-us")
            ready = structured(
                await client.call_tool(
                    "update_checkout",
                    {"checkout_id": checkout["id"], "selected_option_id": express},
                )
            )
            assert ready["status"] == "ready_for_complete"
            assert next(t["amount"] for t in ready["totals"] if t["type"] == "total") == 7500

            declined = await client.call_tool(
                "complete_checkout", {"checkout_id": checkout["id"], "payment_token": "fail_it"}
            )
            assert declined.is_error
            assert "402" in declined.content[0].text

            done = structured(
                await client.call_tool(
                    "complete_checkout",
                    {"checkout_id": checkout["id"], "payment_token": "tok_test"},
                )
            )
            assert done["status"] == "completed"
            return structured(
                await client.call_tool("get_order", {"order_id": done["order"]["id"]})
            )

    order = run_in_own_loop(shop_over_mcp)
    assert order["line_items"][0]["quantity"]["total"] == 2
    with database.session() as session:
        placed = session.scalars(select(Order).where(Order.channel == "mcp")).one()
        assert float(placed.total) == pytest.approx(75.0)


def test_an_unknown_checkout_is_a_tool_error(live_server: LiveServer) -> None:
    async def ask() -> Any:
        async with Client(f"{live_server.url}/mcp") as client:
            return await client.call_tool("get_checkout", {"checkout_id": "chk_nope"})

    result = run_in_own_loop(ask)
    assert result.is_error
    assert "Checkout session not found (404)" in result.content[0].text


def test_building_the_app_leaves_the_process_logging_alone(
    settings: Settings, database: Database, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = logging.getLogger()
    # As in a fresh process (pytest has put its own handlers on the root logger).
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", logging.WARNING)
    create_app(settings, database=database, clock=clock)
    assert (root.handlers, root.level) == ([], logging.WARNING)
