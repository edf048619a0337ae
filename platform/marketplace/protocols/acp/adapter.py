"""ACP on the shared checkout core: ACP's requests turned into the core's inputs, and the core's
sessions shown as ACP checkout sessions. No HTTP here, and no state of its own.

ACP sends one shipping address (`fulfillment_address`) and one option id; the core keeps
fulfillment methods with destinations. The address becomes the single destination `fa_1` of one
shipping method, and the cheapest option is selected until the agent picks another, as ACP's
examples show a merchant doing, so a session with an address is ready for payment.
"""

from __future__ import annotations

from typing import Any

from marketplace.core.errors import ProblemError
from marketplace.protocols.acp.schemas import (
    AcpStatus,
    Address,
    Buyer,
    CheckoutSession,
    CreateRequest,
    FulfillmentOption,
    Item,
    LineItem,
    Message,
    OrderRef,
    PaymentData,
    Total,
    UpdateRequest,
)
from marketplace.protocols.checkout.domain import (
    CANCELED,
    COMPLETED,
    INCOMPLETE,
    READY,
    CheckoutChanges,
    CheckoutView,
    LineItemInput,
    MethodInput,
    MethodView,
    PaymentDeclined,
    PaymentSubmission,
)
from marketplace.protocols.checkout.payments import MOCK_HANDLER

DESTINATION_ID = "fa_1"
# Simulated Stripe shared payment tokens: nothing else is taken, nothing is ever charged.
TEST_TOKEN_PREFIX = "spt_test_"  # noqa: S105 - a marker of test tokens, not a secret
DECLINED_TOKEN_PREFIX = "spt_test_decline"  # noqa: S105
STATUS: dict[str, AcpStatus] = {
    INCOMPLETE: "not_ready_for_payment",
    READY: "ready_for_payment",
    COMPLETED: "completed",
    CANCELED: "canceled",
}


class TestTokenRequired(ProblemError):
    status = 400
    type_slug = "acp-test-token-required"
    title = "Only simulated payment tokens are accepted"


def line_inputs(items: list[Item]) -> list[LineItemInput]:
    return [LineItemInput(item_id=item.id, quantity=item.quantity) for item in items]


def buyer_json(buyer: Buyer | None) -> dict[str, Any] | None:
    return buyer.model_dump(exclude_none=True) if buyer is not None else None


def destination(address: Address) -> dict[str, Any]:
    """An ACP address as the core's destination (schema.org-style address fields)."""
    out: dict[str, Any] = {
        "id": DESTINATION_ID,
        "full_name": address.name,
        "street_address": address.line_one,
        "address_locality": address.city,
        "address_region": address.state,
        "postal_code": address.postal_code,
        "address_country": address.country.upper(),
    }
    if address.line_two:
        out["extended_address"] = address.line_two
    return out


def _method(view: CheckoutView) -> MethodView | None:
    """The session's one shipping method, if it has one yet."""
    return view.methods[0] if view.methods else None


def address_of(view: CheckoutView) -> Address | None:
    method = _method(view)
    found = method.destination if method is not None else None
    if not found:
        return None
    return Address(
        name=str(found.get("full_name") or "-"),
        line_one=str(found.get("street_address") or "-"),
        line_two=found.get("extended_address"),
        city=str(found.get("address_locality") or "-"),
        state=str(found.get("address_region") or "-"),
        country=str(found.get("address_country") or "US")[:2],
        postal_code=str(found.get("postal_code") or "-"),
    )


def shipping(address: Address | None, option_id: str | None) -> list[MethodInput] | None:
    """The one shipping method an ACP update describes, or None when it touches neither."""
    if address is None and option_id is None:
        return None
    return [
        MethodInput(
            type="shipping",
            id="fm_1",
            destinations=[destination(address)] if address is not None else None,
            select_destination=address is not None,
            selected_destination_id=DESTINATION_ID if address is not None else None,
            selected_option_ids=[option_id] if option_id is not None else None,
        )
    ]


def create_inputs(body: CreateRequest) -> dict[str, Any]:
    """Keyword arguments of `CheckoutCore.create` for an ACP create request."""
    return {
        "line_items": line_inputs(body.items),
        "buyer": buyer_json(body.buyer),
        "fulfillment": shipping(body.fulfillment_address, None),
        "currency": None,
    }


def changes(body: UpdateRequest) -> CheckoutChanges:
    return CheckoutChanges(
        line_items=line_inputs(body.items) if body.items is not None else None,
        buyer=buyer_json(body.buyer),
        fulfillment=shipping(body.fulfillment_address, body.fulfillment_option_id),
    )


def default_option(view: CheckoutView) -> CheckoutChanges | None:
    """Select the cheapest option of a destination that has none selected yet."""
    method = _method(view)
    if method is None or method.option is not None or not method.options:
        return None
    return CheckoutChanges(fulfillment=shipping(None, method.options[0].id))


def payment(data: PaymentData) -> PaymentSubmission:
    """The core's payment for a delegated token; only simulated test tokens are taken."""
    token = data.token
    if not token.startswith(TEST_TOKEN_PREFIX):
        raise TestTokenRequired(
            f"This sandbox takes only simulated delegated payment tokens starting with "
            f"'{TEST_TOKEN_PREFIX}' (e.g. spt_test_4242); nothing is ever charged. Never send a "
            "real payment token here."
        )
    if token.startswith(DECLINED_TOKEN_PREFIX):
        raise PaymentDeclined(
            "The simulated payment token was declined (tokens starting with "
            f"'{DECLINED_TOKEN_PREFIX}' always are); send another spt_test_ token."
        )
    return PaymentSubmission(
        handler_id=MOCK_HANDLER, credential_type="delegated_payment_token", token=token
    )


def _messages(view: CheckoutView) -> list[Message]:
    if view.status != INCOMPLETE:
        return []
    method = _method(view)
    if method is None or method.destination is None:
        return [
            Message(
                type="error",
                code="missing",
                param="$.fulfillment_address",
                content="Send a fulfillment_address to see the shipping options and pay.",
            )
        ]
    return [
        Message(
            type="error",
            code="missing",
            param="$.fulfillment_option_id",
            content="Select one of the fulfillment_options with fulfillment_option_id.",
        )
    ]


def session_out(view: CheckoutView, *, base_url: str) -> CheckoutSession:
    """The core's session as ACP shows it (amounts in minor units, currency in lower case)."""
    lines = [
        LineItem(
            id=line.id,
            item=Item(id=line.item_id, quantity=line.quantity),
            base_amount=line.subtotal,
            discount=0,
            subtotal=line.subtotal,
            tax=0,
            total=line.subtotal,
        )
        for line in view.lines
    ]
    method = _method(view)
    options = [
        FulfillmentOption(
            id=o.id,
            title=o.title,
            subtitle=o.service_level,
            subtotal=o.amount,
            tax=0,
            total=o.amount,
        )
        for o in ((method.options or []) if method is not None else [])
    ]
    totals = view.totals
    listed = [
        Total(type="items_base_amount", display_text="Item(s) total", amount=totals.subtotal),
        Total(type="subtotal", display_text="Subtotal", amount=totals.subtotal),
    ]
    if totals.discount:
        listed.append(Total(type="discount", display_text="Discount", amount=totals.discount))
    if totals.fulfillment is not None:
        listed.append(Total(type="fulfillment", display_text="Shipping", amount=totals.fulfillment))
    listed += [
        Total(type="tax", display_text="Tax", amount=0),
        Total(type="total", display_text="Total", amount=totals.total),
    ]
    buyer = view.buyer
    order = None
    if view.order_id is not None:
        order = OrderRef(
            id=view.order_id,
            checkout_session_id=view.id,
            permalink_url=f"{base_url}checkout_sessions/{view.id}",
        )
    return CheckoutSession(
        id=view.id,
        buyer=Buyer.model_validate(buyer) if buyer else None,
        status=STATUS.get(view.status, "not_ready_for_payment"),
        currency=view.currency.lower(),
        line_items=lines,
        fulfillment_address=address_of(view),
        fulfillment_options=options,
        fulfillment_option_id=method.selected_option_id if method is not None else None,
        totals=listed,
        messages=_messages(view),
        links=[],
        order=order,
    )
