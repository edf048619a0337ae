"""UCP REST binding (version 2026-01-11): the profile, checkout sessions, orders, simulation.

`GET /.well-known/ucp` is the business profile; the binding lives under `/ucp/v1` (the profile's
REST endpoint), and the profile is also answered there, so a client given the binding's root
(as the conformance suite is) finds it. The simulation router exists only when the app has a
simulation secret.
"""

from __future__ import annotations

import html
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.background import BackgroundTask

from marketplace.core.deps import NowDep, SessionDep
from marketplace.core.errors import NotFound, ProblemError
from marketplace.protocols.deps import ProtocolsDep
from marketplace.protocols.state import ProtocolState
from marketplace.protocols.ucp import service, views
from marketplace.protocols.ucp.schemas import (
    CheckoutCreateReq,
    CheckoutUpdateReq,
    CompleteReq,
    OrderUpdateReq,
)
from marketplace.protocols.ucp.service import Answer, UcpRequest

TAG = "ucp"
IdPath = Annotated[str, Path(min_length=1, max_length=64)]


async def ucp_request(
    request: Request,
    now: NowDep,
    idempotency_key: Annotated[str | None, Header(alias="idempotency-key")] = None,
    ucp_agent: Annotated[str | None, Header(alias="ucp-agent")] = None,
) -> UcpRequest:
    profile, version = service.parse_agent(ucp_agent)
    return UcpRequest(
        base=str(request.base_url).rstrip("/"),
        method=request.method,
        path=request.url.path,
        idempotency_key=idempotency_key,
        agent_profile=profile,
        agent_version=version,
        now=now,
    )


UcpRequestDep = Annotated[UcpRequest, Depends(ucp_request)]

_HEADERS = (
    'Headers: `UCP-Agent` (`profile="<agent profile URL>"; version="2026-01-11"`; the '
    "profile's order webhook gets the order events), `idempotency-key` (a retry with the same "
    "key and body gets the first answer; another body, 409)."
)


def _respond(answer: Answer, protocols: ProtocolState) -> JSONResponse:
    task = None
    if answer.webhook is not None:
        profile, event = answer.webhook
        task = BackgroundTask(protocols.webhooks.send, profile, event)
    return JSONResponse(answer.body, status_code=answer.status, background=task)


discovery_router = APIRouter(tags=[TAG])
router = APIRouter(prefix=views.BINDING_PATH, tags=[TAG])
simulation_router = APIRouter(prefix=views.BINDING_PATH, tags=[TAG])


@discovery_router.get(
    "/.well-known/ucp",
    summary="UCP business profile",
    description="The store's UCP profile: the shopping service with its REST and MCP "
    "endpoints, capabilities, payment handlers (all simulated) and signing keys.",
)
@router.get("/.well-known/ucp", include_in_schema=False)
async def ucp_profile(request: Request, protocols: ProtocolsDep) -> JSONResponse:
    base = str(request.base_url).rstrip("/")
    return JSONResponse(views.profile(base, protocols.signing_keys))


@router.get(
    "/docs/{name}",
    summary="A document the UCP profile links to",
    description="`{name}` is an HTML page; `{name}.json` a JSON document, for the specs, "
    "schemas and policies the profile and checkouts link to.",
)
async def ucp_document(name: Annotated[str, Path(max_length=64)], request: Request) -> Any:
    key = name.removesuffix(".json")
    if key not in views.DOCS:
        raise NotFound(f"No UCP document '{key[:64]}'; the profile at /.well-known/ucp links them.")
    title, text = views.DOCS[key]
    if name.endswith(".json"):
        return JSONResponse(
            {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$id": str(request.url),
                "title": title,
                "description": f"{text} The normative schemas are published at https://ucp.dev.",
                "type": "object",
            }
        )
    page = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title></head><body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>"
        "<p>Universal Commerce Protocol, version 2026-01-11: https://ucp.dev</p></body></html>"
    )
    return HTMLResponse(page)


@router.post(
    "/checkout-sessions",
    status_code=201,
    summary="Create a checkout session",
    description="Line items name catalog items by SKU (or product id); prices come from the "
    "catalog in minor units. 400 for an unknown item, too few in stock or another currency. "
    + _HEADERS,
)
def create_checkout(
    body: CheckoutCreateReq, protocols: ProtocolsDep, session: SessionDep, req: UcpRequestDep
) -> JSONResponse:
    return _respond(service.create_checkout(protocols, session, body, req), protocols)


@router.get("/checkout-sessions/{checkout_id}", summary="Get a checkout session")
def get_checkout(
    checkout_id: IdPath, protocols: ProtocolsDep, session: SessionDep, req: UcpRequestDep
) -> JSONResponse:
    return _respond(service.get_checkout(protocols, session, checkout_id, req), protocols)


@router.put(
    "/checkout-sessions/{checkout_id}",
    summary="Update a checkout session",
    description="Line items, buyer, fulfillment (methods, destinations, selected options), "
    "discount codes and payment; what is left out is kept. 409 once completed or canceled. "
    + _HEADERS,
)
def update_checkout(
    checkout_id: IdPath,
    body: CheckoutUpdateReq,
    protocols: ProtocolsDep,
    session: SessionDep,
    req: UcpRequestDep,
) -> JSONResponse:
    return _respond(service.update_checkout(protocols, session, checkout_id, body, req), protocols)


@router.post(
    "/checkout-sessions/{checkout_id}/complete",
    summary="Complete a checkout session (place the order)",
    description="Pays with a (simulated) payment handler's instrument and places the order; "
    "400 before fulfillment is chosen, 402 when the payment is declined, 409 when closed or "
    "out of stock. " + _HEADERS,
)
def complete_checkout(
    checkout_id: IdPath,
    body: CompleteReq,
    protocols: ProtocolsDep,
    session: SessionDep,
    req: UcpRequestDep,
) -> JSONResponse:
    return _respond(
        service.complete_checkout(protocols, session, checkout_id, body, req), protocols
    )


@router.post("/checkout-sessions/{checkout_id}/cancel", summary="Cancel a checkout session")
def cancel_checkout(
    checkout_id: IdPath, protocols: ProtocolsDep, session: SessionDep, req: UcpRequestDep
) -> JSONResponse:
    return _respond(service.cancel_checkout(protocols, session, checkout_id, req), protocols)


@router.get("/orders/{order_id}", summary="Get an order")
def get_order(
    order_id: IdPath, protocols: ProtocolsDep, session: SessionDep, req: UcpRequestDep
) -> JSONResponse:
    return _respond(service.get_order(protocols, session, order_id, req), protocols)


@router.put(
    "/orders/{order_id}",
    summary="Update an order's fulfillment events and adjustments",
    description="Send the order back with its `fulfillment.events` and `adjustments` changed; "
    "the rest is ignored. 422 for an invalid event or adjustment.",
)
def update_order(
    order_id: IdPath,
    body: OrderUpdateReq,
    protocols: ProtocolsDep,
    session: SessionDep,
    req: UcpRequestDep,
) -> JSONResponse:
    return _respond(service.update_order(protocols, session, order_id, body, req), protocols)


def _check_secret(
    protocols: ProtocolsDep,
    simulation_secret: Annotated[str | None, Header(alias="simulation-secret")] = None,
) -> None:
    expected = protocols.simulation_secret or ""
    given = simulation_secret or ""
    if not expected or not secrets.compare_digest(given.encode(), expected.encode()):
        raise ProblemError(
            "This simulation endpoint needs the Simulation-Secret header with the secret the "
            "store was started with (SANDBOX_UCP_SIMULATION_SECRET).",
            status=403,
            title="Simulation secret required",
            type_slug="simulation-forbidden",
        )


@simulation_router.post(
    "/testing/simulate-shipping/{order_id}",
    dependencies=[Depends(_check_secret)],
    summary="Simulate shipping an order (test only)",
    description="Records a `shipped` fulfillment event for every line and posts "
    "`order_shipped` to the agent's webhook. Exists only when SANDBOX_UCP_SIMULATION_SECRET is "
    "set; needs the `Simulation-Secret` header (403 without it).",
)
def simulate_shipping(
    order_id: IdPath, protocols: ProtocolsDep, session: SessionDep, req: UcpRequestDep
) -> JSONResponse:
    return _respond(service.simulate_shipping(protocols, session, order_id, req), protocols)
