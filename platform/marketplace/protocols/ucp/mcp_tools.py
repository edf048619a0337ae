"""UCP's MCP binding: the shopping capabilities as MCP tools, served over Streamable HTTP at /mcp.

Built with the official `mcp` SDK (2.x, `MCPServer`), stateless with JSON answers, so any worker
answers any call. The tools work on the same checkout core as the REST binding (channel `mcp`)
and answer in the same UCP shapes; a refused call is an MCP tool error carrying the problem's
title, status and sentence. Every request passes the gate first, like any other route.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from marketplace.catalog.schemas import SearchParams
from marketplace.catalog.service import get_product as catalog_product
from marketplace.catalog.service import product_detail, search_products
from marketplace.catalog.text_index import ProductIndex
from marketplace.core.clock import Clock
from marketplace.core.db import Database
from marketplace.core.errors import ProblemError
from marketplace.protocols.checkout import idempotency
from marketplace.protocols.checkout.domain import (
    CheckoutChanges,
    ItemNotFound,
    LineItemInput,
    MethodInput,
    PaymentSubmission,
)
from marketplace.protocols.checkout.payments import MOCK_HANDLER
from marketplace.protocols.checkout.service import CheckoutCore, products_by_item_id
from marketplace.protocols.ucp import views

CHANNEL = "mcp"
T = TypeVar("T")
INSTRUCTIONS = (
    "Shop this store through UCP's shopping tools: search_catalog, get_product, then "
    "create_checkout (items by id, a shipping address), update_checkout (select a fulfillment "
    "option, discount codes), complete_checkout (a test payment token; nothing is charged) and "
    "get_order. Prices are in minor units (cents)."
)


class LineItemArg(BaseModel):
    item_id: str = Field(description="The item's id (the catalog SKU, or the product id).")
    quantity: int = Field(default=1, ge=1, le=100_000)


class AddressArg(BaseModel):
    street_address: str | None = None
    address_locality: str | None = Field(default=None, description="City.")
    address_region: str | None = Field(default=None, description="State or region.")
    postal_code: str | None = None
    address_country: str = Field(min_length=2, max_length=2, description="ISO country, e.g. US.")


class McpDoor:
    """The MCP server and its HTTP endpoint; `running()` belongs in the app's lifespan."""

    def __init__(
        self, *, db: Database, index: ProductIndex, core: CheckoutCore, clock: Clock, path: str
    ) -> None:
        self.db = db
        self.index = index
        self.core = core
        self.clock = clock
        self.path = path
        self.server: MCPServer[Any] = _quiet_server()
        self._manager: StreamableHTTPSessionManager | None = None
        self._register_tools()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Serve MCP while the app runs (one session manager per run, as the SDK wants)."""
        self.server.streamable_http_app(
            streamable_http_path=self.path,
            stateless_http=True,
            json_response=True,
            # A public store endpoint like the REST API (behind the same gate), not a local
            # tool server, so any Host may reach it.
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        manager = self.server.session_manager
        async with manager.run():
            self._manager = manager
            try:
                yield
            finally:
                self._manager = None

    def endpoint(self) -> Route:
        """The route of the MCP endpoint (an ASGI app, not a request handler)."""
        return Route(self.path, _McpEndpoint(self), methods=["GET", "POST", "DELETE"])

    async def _work(self, work: Callable[[Session], T]) -> T:
        """Run `work` in a worker thread in one database session (committed when it succeeds)."""

        def run() -> T:
            with self.db.session() as session:
                return work(session)

        try:
            return await anyio.to_thread.run_sync(run)
        except ProblemError as exc:
            raise ToolError(f"{exc.title} ({exc.status}): {exc.detail}") from None

    def _register_tools(self) -> None:
        tool = self.server.tool
        core = self.core

        @tool(description="Search the catalog; each result has the item id to buy it by.")
        async def search_catalog(
            ctx: Context,
            query: str | None = None,
            category: str | None = None,
            max_price: float | None = None,
            limit: int = 10,
        ) -> dict[str, Any]:
            params = SearchParams(
                q=query, category=category, max_price=max_price, page_size=min(max(limit, 1), 50)
            )

            def work(session: Session) -> dict[str, Any]:
                page = search_products(
                    session,
                    self.index,
                    params,
                    shopper=None,
                    visitor_class=_visitor_class(ctx),
                    now=self.clock(),
                    record_history=False,
                )
                return {
                    "items": [
                        {
                            "id": str(item.id),
                            "title": item.title,
                            "price": round(item.price * 100),
                            "currency": core.currency,
                            "rating": item.rating,
                            "sponsored": item.sponsored,
                        }
                        for item in page.items
                    ],
                    "total": page.total,
                }

            return await self._work(work)

        @tool(description="One product: title, price (minor units), stock, attributes.")
        async def get_product(item_id: str) -> dict[str, Any]:
            def work(session: Session) -> dict[str, Any]:
                product = products_by_item_id(session, [item_id]).get(item_id)
                if product is None:
                    raise ItemNotFound(f"Item '{item_id[:64]}' not found in the catalog.")
                detail = product_detail(catalog_product(session, product.id))
                return {
                    "id": item_id,
                    "sku": product.sku,
                    "title": detail.title,
                    "price": round(detail.price * 100),
                    "currency": core.currency,
                    "stock": detail.stock,
                    "brand": detail.brand,
                    "attributes": detail.attributes,
                }

            return await self._work(work)

        @tool(
            description="Open a checkout session for line items, optionally shipped to an address."
        )
        async def create_checkout(
            line_items: list[LineItemArg],
            ctx: Context,
            shipping_address: AddressArg | None = None,
            buyer_email: str | None = None,
            discount_codes: list[str] | None = None,
        ) -> dict[str, Any]:
            methods = None
            if shipping_address is not None:
                destination = {"id": "dest_1", **shipping_address.model_dump(exclude_none=True)}
                methods = [
                    MethodInput(
                        destinations=[destination],
                        select_destination=True,
                        selected_destination_id="dest_1",
                    )
                ]

            def work(session: Session) -> dict[str, Any]:
                view = core.create(
                    session,
                    channel=CHANNEL,
                    currency=None,
                    line_items=[LineItemInput(li.item_id, li.quantity) for li in line_items],
                    buyer={"email": buyer_email} if buyer_email else None,
                    fulfillment=methods,
                    discount_codes=discount_codes or (),
                    now=self.clock(),
                )
                return views.checkout(view, _base(ctx))

            return await self._work(work)

        @tool(description="Get a checkout session.")
        async def get_checkout(checkout_id: str, ctx: Context) -> dict[str, Any]:
            return await self._work(
                lambda session: views.checkout(core.get(session, checkout_id), _base(ctx))
            )

        @tool(
            description="Change a checkout: line items, discount codes, the shipping address, "
            "or the fulfillment option (an id from the session's fulfillment groups)."
        )
        async def update_checkout(
            checkout_id: str,
            ctx: Context,
            line_items: list[LineItemArg] | None = None,
            discount_codes: list[str] | None = None,
            shipping_address: AddressArg | None = None,
            selected_option_id: str | None = None,
        ) -> dict[str, Any]:
            method = None
            if shipping_address is not None or selected_option_id is not None:
                destinations = None
                if shipping_address is not None:
                    address = shipping_address.model_dump(exclude_none=True)
                    destinations = [{"id": "dest_1", **address}]
                method = MethodInput(
                    destinations=destinations,
                    select_destination=destinations is not None,
                    selected_destination_id="dest_1" if destinations else None,
                    selected_option_ids=[selected_option_id] if selected_option_id else None,
                )
            changes = CheckoutChanges(
                line_items=(
                    [LineItemInput(li.item_id, li.quantity) for li in line_items]
                    if line_items
                    else None
                ),
                discount_codes=discount_codes,
                fulfillment=[method] if method else None,
            )
            return await self._work(
                lambda session: views.checkout(
                    core.update(session, checkout_id, changes, now=self.clock()), _base(ctx)
                )
            )

        @tool(
            description="Complete a checkout (place the order) with a test payment token of the "
            "simulated payment handler: any token works except one starting with 'fail'."
        )
        async def complete_checkout(
            checkout_id: str,
            payment_token: str,
            ctx: Context,
            handler_id: str = MOCK_HANDLER,
            idempotency_key: str | None = None,
        ) -> dict[str, Any]:
            payment = PaymentSubmission(
                handler_id=handler_id, instrument_id="mcp_token", token=payment_token
            )

            def work(session: Session) -> dict[str, Any]:
                now = self.clock()
                claim = idempotency.claim(
                    session,
                    channel=CHANNEL,
                    key=idempotency_key,
                    request_fingerprint=idempotency.fingerprint(
                        "TOOL", "complete_checkout", [checkout_id, payment_token, handler_id]
                    ),
                    now=now,
                )
                if isinstance(claim, idempotency.Replay):
                    return claim.body
                body = views.checkout(
                    core.complete(session, checkout_id, payment, now=now), _base(ctx)
                )
                claim.finish(200, body)
                return body

            return await self._work(work)

        @tool(description="Cancel a checkout session.")
        async def cancel_checkout(checkout_id: str, ctx: Context) -> dict[str, Any]:
            return await self._work(
                lambda session: views.checkout(
                    core.cancel(session, checkout_id, now=self.clock()), _base(ctx)
                )
            )

        @tool(description="Get an order (the id a completed checkout returned).")
        async def get_order(order_id: str, ctx: Context) -> dict[str, Any]:
            return await self._work(
                lambda session: views.order(core.get_order(session, order_id), _base(ctx))
            )


def _quiet_server() -> MCPServer[Any]:
    """The MCP server, leaving the process's logging as it was.

    MCPServer's constructor calls `logging.basicConfig(level=INFO)` with its own handler, which
    would print every library's INFO lines (each httpx request of the harness, for one) in every
    process that builds the app.
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        return MCPServer(name="nile-ucp", instructions=INSTRUCTIONS, version=views.VERSION)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


class _McpEndpoint:
    """ASGI app answering at the MCP path with the session manager of the current run."""

    def __init__(self, door: McpDoor) -> None:
        self.door = door

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        manager = self.door._manager
        if manager is None:
            response = JSONResponse({"detail": "The MCP endpoint is not running."}, status_code=503)
            await response(scope, receive, send)
            return
        await manager.asgi_app(scope, receive, send)


def _visitor_class(ctx: Context) -> str:
    """The gate's class of the HTTP request carrying the call (it counts the ads served)."""
    state = getattr(ctx.request_context.request, "state", None)
    return str(getattr(state, "visitor_class", "human"))


def _base(ctx: Context) -> str:
    """The store's origin as the MCP client reached it."""
    request = ctx.request_context.request
    base = getattr(request, "base_url", None)
    return str(base).rstrip("/") if base is not None else "http://localhost"
