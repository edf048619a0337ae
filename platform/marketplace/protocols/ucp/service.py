"""The UCP REST door: headers and idempotency, the core's work, the answer in UCP's shape.

Errors keep the platform's problem+json body (its `detail` is the sentence UCP's conformance
suite reads) and add UCP's `messages`, so a UCP agent finds the error where it looks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from marketplace.core.errors import ProblemError, clip
from marketplace.protocols.checkout import idempotency
from marketplace.protocols.checkout.domain import LineItemInput
from marketplace.protocols.state import ProtocolState
from marketplace.protocols.ucp import views
from marketplace.protocols.ucp.schemas import (
    CheckoutCreateReq,
    CheckoutUpdateReq,
    CompleteReq,
    OrderUpdateReq,
    dump_adjustments,
    dump_events,
    iso,
)

CHANNEL = "ucp"
_PARAM = re.compile(r'([A-Za-z][\w-]*)\s*=\s*"([^"]*)"')
_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# UCP message codes for the core's problem types.
_CODES = {
    "protocol-insufficient-stock": "out_of_stock",
    "protocol-out-of-stock": "out_of_stock",
    "protocol-item-not-found": "item_not_found",
    "protocol-payment-declined": "payment_declined",
    "protocol-checkout-closed": "checkout_not_modifiable",
    "protocol-checkout-not-found": "not_found",
    "protocol-order-not-found": "not_found",
    "protocol-idempotency-conflict": "idempotency_conflict",
    "protocol-version-unsupported": "version_unsupported",
}


@dataclass(frozen=True)
class UcpRequest:
    """What the door reads from a request besides its body."""

    base: str  # scheme://host[:port] of this store, as the agent reached it
    method: str
    path: str
    idempotency_key: str | None
    agent_profile: str | None
    agent_version: str | None
    now: datetime


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    # (agent profile URL, event) to post to the agent's order webhook after the response
    webhook: tuple[str | None, dict[str, Any]] | None = None


def parse_agent(header: str | None) -> tuple[str | None, str | None]:
    """`profile` and `version` of a `UCP-Agent` header (`profile="https://..."; version="..."`)."""
    params = dict(_PARAM.findall(header or ""))
    profile = params.get("profile")
    return (profile[:2048] if profile else None), params.get("version")


def check_version(version: str | None) -> None:
    """400 when the agent speaks a protocol version newer than this store's (or no date)."""
    if version is None:
        return
    if not _VERSION.match(version) or version > views.VERSION:
        raise ProblemError(
            f"This store speaks UCP {views.VERSION}; the agent asked for version "
            f"'{clip(version, 20)}'. Send version=\"{views.VERSION}\" (or an earlier one) in "
            "the UCP-Agent header.",
            status=400,
            title="Protocol version not supported",
            type_slug="protocol-version-unsupported",
        )


@contextmanager
def ucp_messages() -> Iterator[None]:
    """Add UCP's `messages` to any problem raised inside."""
    try:
        yield
    except ProblemError as exc:
        exc.extra.setdefault(
            "messages",
            [
                {
                    "type": "error",
                    "code": _CODES.get(exc.type_slug, exc.type_slug.replace("-", "_")),
                    "content": exc.detail,
                    "severity": "recoverable",
                }
            ],
        )
        raise


def _idempotent(session: Session, req: UcpRequest, body: Any, work: Callable[[], Answer]) -> Answer:
    claim = idempotency.claim(
        session,
        channel=CHANNEL,
        key=req.idempotency_key,
        request_fingerprint=idempotency.fingerprint(req.method, req.path, body),
        now=req.now,
    )
    if isinstance(claim, idempotency.Replay):
        return Answer(claim.status_code, claim.body)
    answer = work()
    claim.finish(answer.status, answer.body)
    return answer


def _body(model: Any) -> Any:
    return model.model_dump(mode="json", exclude_unset=True) if model is not None else None


def create_checkout(
    state: ProtocolState, session: Session, body: CheckoutCreateReq, req: UcpRequest
) -> Answer:
    with ucp_messages():
        check_version(req.agent_version)

        def work() -> Answer:
            view = state.core.create(
                session,
                channel=CHANNEL,
                currency=body.currency,
                line_items=[
                    LineItemInput(item_id=li.item.id, quantity=li.quantity)
                    for li in body.line_items
                ],
                buyer=body.buyer,
                fulfillment=(
                    [m.to_input() for m in body.fulfillment.methods] if body.fulfillment else None
                ),
                discount_codes=body.discounts.codes if body.discounts else (),
                payment=body.payment.to_input() if body.payment else None,
                agent_profile=req.agent_profile,
                now=req.now,
            )
            return Answer(201, views.checkout(view, req.base))

        return _idempotent(session, req, _body(body), work)


def get_checkout(
    state: ProtocolState, session: Session, checkout_id: str, req: UcpRequest
) -> Answer:
    with ucp_messages():
        check_version(req.agent_version)
        return Answer(200, views.checkout(state.core.get(session, checkout_id), req.base))


def update_checkout(
    state: ProtocolState,
    session: Session,
    checkout_id: str,
    body: CheckoutUpdateReq,
    req: UcpRequest,
) -> Answer:
    with ucp_messages():
        check_version(req.agent_version)

        def work() -> Answer:
            view = state.core.update(session, checkout_id, body.to_changes(), now=req.now)
            return Answer(200, views.checkout(view, req.base))

        return _idempotent(session, req, _body(body), work)


def complete_checkout(
    state: ProtocolState,
    session: Session,
    checkout_id: str,
    body: CompleteReq,
    req: UcpRequest,
) -> Answer:
    with ucp_messages():
        check_version(req.agent_version)

        def work() -> Answer:
            view = state.core.complete(
                session, checkout_id, body.payment_data.to_submission(), now=req.now
            )
            answer = views.checkout(view, req.base)
            webhook = None
            if view.order_id is not None:
                order = state.core.get_order(session, view.order_id)
                event = views.order_event("order_placed", order, req.base, iso(req.now))
                webhook = (order.agent_profile or req.agent_profile, event)
            return Answer(200, answer, webhook)

        return _idempotent(session, req, _body(body), work)


def cancel_checkout(
    state: ProtocolState, session: Session, checkout_id: str, req: UcpRequest
) -> Answer:
    with ucp_messages():
        check_version(req.agent_version)

        def work() -> Answer:
            view = state.core.cancel(session, checkout_id, now=req.now)
            return Answer(200, views.checkout(view, req.base))

        return _idempotent(session, req, None, work)


def get_order(state: ProtocolState, session: Session, order_id: str, req: UcpRequest) -> Answer:
    with ucp_messages():
        return Answer(200, views.order(state.core.get_order(session, order_id), req.base))


def update_order(
    state: ProtocolState,
    session: Session,
    order_id: str,
    body: OrderUpdateReq,
    req: UcpRequest,
) -> Answer:
    with ucp_messages():
        view = state.core.update_order(
            session,
            order_id,
            events=dump_events(body),
            adjustments=dump_adjustments(body),
            now=req.now,
        )
        return Answer(200, views.order(view, req.base))


def simulate_shipping(
    state: ProtocolState, session: Session, order_id: str, req: UcpRequest
) -> Answer:
    """Ship every line of the order (test only) and tell the agent's webhook."""
    with ucp_messages():
        view = state.core.ship_order(session, order_id, now=req.now)
        event = views.order_event("order_shipped", view, req.base, iso(req.now))
        return Answer(200, views.order(view, req.base), (view.agent_profile, event))
