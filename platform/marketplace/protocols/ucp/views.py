"""The UCP shapes (version 2026-01-11) of the core's checkout sessions, orders and the profile."""

from __future__ import annotations

from typing import Any

from marketplace.protocols.checkout.domain import CheckoutView, MethodView, OrderView
from marketplace.protocols.checkout.payments import MOCK_HANDLER
from marketplace.protocols.checkout.service import totals_json
from marketplace.protocols.ucp.schemas import iso

VERSION = "2026-01-11"
SHOPPING = "dev.ucp.shopping"
BINDING_PATH = "/ucp/v1"
MCP_PATH = "/mcp"
CHECKOUT_CAPABILITIES = (
    f"{SHOPPING}.checkout",
    f"{SHOPPING}.discount",
    f"{SHOPPING}.fulfillment",
    f"{SHOPPING}.buyer_consent",
)
ORDER_CAPABILITY = f"{SHOPPING}.order"
# Capability -> the capability it extends (None: a root capability).
CAPABILITIES: dict[str, str | None] = {
    f"{SHOPPING}.checkout": None,
    ORDER_CAPABILITY: None,
    f"{SHOPPING}.discount": f"{SHOPPING}.checkout",
    f"{SHOPPING}.fulfillment": f"{SHOPPING}.checkout",
    f"{SHOPPING}.buyer_consent": f"{SHOPPING}.checkout",
}
# The documents the profile links to, served by this store (GET /ucp/v1/docs/{name}).
DOCS: dict[str, tuple[str, str]] = {
    "shopping": ("Shopping service", "The UCP shopping service of this store: REST and MCP."),
    "checkout": ("Checkout", "Checkout sessions: create, get, update, complete, cancel."),
    "order": ("Order", "Orders made from checkout sessions, and their webhook events."),
    "discount": ("Discount", "Discount codes applied to a checkout session."),
    "fulfillment": ("Fulfillment", "Shipping methods, destinations and options."),
    "buyer_consent": ("Buyer consent", "The buyer's consent choices, kept with the session."),
    "mock_payment_handler": (
        "Mock payment handler",
        "Every payment handler of this store is simulated: a token credential is approved "
        "unless it starts with 'fail'; nothing is ever charged.",
    ),
    "privacy": ("Privacy policy", "A sandbox store: orders are simulated, nobody is charged."),
    "terms": ("Terms of service", "A sandbox store for testing agents; nothing ships."),
}
HANDLERS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("google_pay", "google.pay", {"merchant_name": "Nile (sandbox)", "environment": "TEST"}),
    (MOCK_HANDLER, "dev.ucp.mock_payment_handler", {}),
    ("shop_pay", "com.shopify.shop_pay", {"shop_id": "nile-sandbox"}),
)


def doc_url(base: str, name: str) -> str:
    return f"{base}{BINDING_PATH}/docs/{name}"


def schema_url(base: str, name: str) -> str:
    return f"{base}{BINDING_PATH}/docs/{name}.json"


def _capabilities(base: str, names: tuple[str, ...] | list[str]) -> list[dict[str, Any]]:
    out = []
    for name in names:
        short = name.removeprefix(f"{SHOPPING}.")
        capability: dict[str, Any] = {
            "name": name,
            "version": VERSION,
            "spec": doc_url(base, short),
            "schema": schema_url(base, short),
        }
        if CAPABILITIES.get(name):
            capability["extends"] = CAPABILITIES[name]
        out.append(capability)
    return out


def handlers(base: str) -> list[dict[str, Any]]:
    return [
        {
            "id": handler_id,
            "name": name,
            "version": VERSION,
            "spec": doc_url(base, MOCK_HANDLER),
            "config_schema": schema_url(base, MOCK_HANDLER),
            "instrument_schemas": [schema_url(base, MOCK_HANDLER)],
            "config": config,
        }
        for handler_id, name, config in HANDLERS
    ]


def profile(base: str, signing_keys: list[dict[str, Any]]) -> dict[str, Any]:
    """The business profile served at /.well-known/ucp."""
    return {
        "ucp": {
            "version": VERSION,
            "services": {
                SHOPPING: {
                    "version": VERSION,
                    "spec": doc_url(base, "shopping"),
                    "rest": {
                        "schema": schema_url(base, "shopping"),
                        "endpoint": f"{base}{BINDING_PATH}",
                    },
                    "mcp": {
                        "schema": schema_url(base, "shopping"),
                        "endpoint": f"{base}{MCP_PATH}",
                    },
                }
            },
            "capabilities": _capabilities(base, list(CAPABILITIES)),
        },
        "payment": {"handlers": handlers(base)},
        "signing_keys": signing_keys,
    }


def _item(item_id: str, title: str, price: int, image_url: str | None) -> dict[str, Any]:
    item: dict[str, Any] = {"id": item_id, "title": title, "price": price}
    if image_url:
        item["image_url"] = image_url
    return item


def _amounts(subtotal: int) -> list[dict[str, Any]]:
    return [{"type": "subtotal", "amount": subtotal}, {"type": "total", "amount": subtotal}]


def order_url(base: str, order_id: str) -> str:
    return f"{base}{BINDING_PATH}/orders/{order_id}"


def checkout(view: CheckoutView, base: str) -> dict[str, Any]:
    """A checkout session as UCP's checkout response (with its extensions)."""
    body: dict[str, Any] = {
        "ucp": {
            "version": VERSION,
            "capabilities": [{"name": n, "version": VERSION} for n in CHECKOUT_CAPABILITIES],
        },
        "id": view.id,
        "status": view.status,
        "currency": view.currency,
        "line_items": [
            {
                "id": line.id,
                "item": _item(line.item_id, line.title, line.unit_price, line.image_url),
                "quantity": line.quantity,
                "totals": _amounts(line.subtotal),
            }
            for line in view.lines
        ],
        "totals": totals_json(view.totals),
        "links": [
            {"type": "privacy_policy", "url": doc_url(base, "privacy")},
            {"type": "terms_of_service", "url": doc_url(base, "terms")},
        ],
        "expires_at": iso(view.expires_at),
        "payment": {
            "handlers": handlers(base),
            "selected_instrument_id": view.payment.selected_instrument_id,
            "instruments": view.payment.instruments,
        },
        "discounts": {
            "codes": view.discount_codes,
            "applied": [
                {"code": a.code, "title": a.title, "amount": a.amount}
                for a in view.applied_discounts
            ],
        },
    }
    if view.buyer is not None:
        body["buyer"] = view.buyer
    if view.methods is not None:
        body["fulfillment"] = {"methods": [_method(m) for m in view.methods]}
    if view.order_id is not None:
        body["order"] = {"id": view.order_id, "permalink_url": order_url(base, view.order_id)}
    if view.status == "incomplete":
        body["messages"] = [_missing_message(view)]
    return body


def _method(method: MethodView) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": method.id,
        "type": method.type,
        "line_item_ids": method.line_item_ids,
    }
    if method.destinations is not None:
        out["destinations"] = method.destinations
    if method.selected_destination_id is not None:
        out["selected_destination_id"] = method.selected_destination_id
    if method.options is not None:
        group: dict[str, Any] = {
            "id": method.group_id,
            "line_item_ids": method.line_item_ids,
            "options": [
                {
                    "id": o.id,
                    "title": o.title,
                    "totals": [{"type": "total", "amount": o.amount}],
                }
                for o in method.options
            ],
        }
        if method.selected_option_id is not None:
            group["selected_option_id"] = method.selected_option_id
        out["groups"] = [group]
    return out


def _missing_message(view: CheckoutView) -> dict[str, Any]:
    if not view.methods:
        what, path = "a fulfillment method with a destination", "$.fulfillment"
    elif any(m.destination is None for m in view.methods):
        what, path = "a selected destination", "$.fulfillment.methods[0].selected_destination_id"
    else:
        what, path = "a selected fulfillment option", "$.fulfillment.methods[0].groups"
    return {
        "type": "info",
        "code": "fulfillment_required",
        "path": path,
        "content": f"Before completing, the checkout needs {what}.",
    }


def order(view: OrderView, base: str) -> dict[str, Any]:
    """A protocol order as UCP's order."""
    shipped: dict[str, int] = {}
    for event in view.events:
        if event.get("type") in ("shipped", "delivered"):
            for ref in event.get("line_items") or []:
                shipped[ref["id"]] = shipped.get(ref["id"], 0) + int(ref.get("quantity", 0))
    lines = []
    for line in view.line_items:
        done = min(line["quantity"], shipped.get(line["id"], 0))
        status = (
            "processing" if done == 0 else "fulfilled" if done == line["quantity"] else "partial"
        )
        lines.append(
            {
                "id": line["id"],
                "item": _item(
                    line["item_id"], line["title"], line["unit_price"], line["image_url"]
                ),
                "quantity": {"total": line["quantity"], "fulfilled": done},
                "totals": _amounts(line["unit_price"] * line["quantity"]),
                "status": status,
            }
        )
    return {
        "ucp": {
            "version": VERSION,
            "capabilities": [{"name": ORDER_CAPABILITY, "version": VERSION}],
        },
        "id": view.id,
        "checkout_id": view.checkout_id,
        "permalink_url": order_url(base, view.id),
        "line_items": lines,
        "fulfillment": {
            "expectations": [
                {k: v for k, v in e.items() if v is not None} for e in view.expectations
            ],
            "events": view.events,
        },
        "adjustments": view.adjustments,
        "totals": view.totals,
    }


def order_event(event_type: str, view: OrderView, base: str, occurred_at: str) -> dict[str, Any]:
    """The body posted to the agent's order webhook."""
    return {
        "event_type": event_type,
        "event_id": f"{view.id}:{event_type}:{len(view.events)}",
        "occurred_at": occurred_at,
        "checkout_id": view.checkout_id,
        "order": order(view, base),
    }
