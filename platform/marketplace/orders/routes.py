"""Order endpoints: checkout from the cart and the shopper's own order history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path, Query, Response, status

from marketplace.accounts.deps import AccountDep, OrderingAccountDep, ShopperDep
from marketplace.core.deps import NowDep, SessionDep, VisitorClassDep
from marketplace.orders import service
from marketplace.orders.schemas import OrderCreate, OrderOut, OrderPage

router = APIRouter(prefix="/api/v1/orders", tags=["orders"])

_LOGIN: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in; the problem says how to log in."}
}


_IDEMPOTENCY_PARAMETER: dict[str, Any] = {
    "name": service.IDEMPOTENCY_HEADER,
    "in": "header",
    "required": True,
    "description": "A unique key per order (e.g. a UUID), 1-255 printable characters; send the "
    "same key when you retry the same order. Without it the answer is 400 "
    "(/problems/idempotency-key-missing).",
    "schema": {"type": "string", "minLength": 1, "maxLength": service.MAX_KEY_LENGTH},
}


@router.post(
    "",
    openapi_extra={"parameters": [_IDEMPOTENCY_PARAMETER]},
    response_model=OrderOut,
    status_code=status.HTTP_201_CREATED,
    summary="Place an order from the cart",
    description="Buys everything in the cart in one step with a mock payment (nothing is "
    "charged; never send a card number). The `Idempotency-Key` header is required: repeating "
    "a request with the same key and body returns the first order (200) instead of buying "
    "again; the body is optional and defaults to a mock card payment.",
    responses={
        200: {
            "description": "A repeat of an earlier request with this key: its order.",
            "model": OrderOut,
        },
        201: {"description": "The order was placed."},
        400: {"description": "The Idempotency-Key header is missing or invalid."},
        **_LOGIN,
        403: {"description": "Ordering is suspended on this account."},
        409: {
            "description": "The cart is empty, or a product is out of stock (named in the "
            "problem with `product_id` and `stock_left`); nothing was bought."
        },
        422: {
            "description": "The body is invalid (e.g. it holds a card number), or the key "
            "was already used for a different request."
        },
    },
)
def place_order(
    response: Response,
    account: OrderingAccountDep,
    shopper: ShopperDep,
    session: SessionDep,
    now: NowDep,
    channel: VisitorClassDep,
    idempotency_key: Annotated[
        str | None,
        # Optional to FastAPI so that a missing key gets the service's 400, which says what to
        # send; the description marks it required (`_IDEMPOTENCY_PARAMETER`).
        Header(alias=service.IDEMPOTENCY_HEADER, include_in_schema=False),
    ] = None,
    body: Annotated[OrderCreate | None, Body()] = None,
) -> OrderOut:
    placed = service.place_order(
        session,
        account_id=account.id,
        idempotency_key=idempotency_key,
        request=body,
        channel=channel,
        now=now,
        session_key=shopper.session_key,
    )
    if not placed.created:
        response.status_code = status.HTTP_200_OK
    return service.order_out(placed.order)


@router.get(
    "",
    response_model=OrderPage,
    summary="Your orders",
    description="The logged-in shopper's orders, newest first.",
    responses=_LOGIN,
)
def list_orders(
    account: AccountDep,
    session: SessionDep,
    # Bounded so the offset fits the database's 64-bit integers.
    page: Annotated[int, Query(ge=1, le=100_000, description="Page number, from 1.")] = 1,
    page_size: Annotated[int, Query(ge=1, le=100, description="Orders per page.")] = 20,
) -> OrderPage:
    return service.list_orders(session, account_id=account.id, page=page, page_size=page_size)


@router.get(
    "/{order_id}",
    response_model=OrderOut,
    summary="One of your orders",
    description="An order of the logged-in shopper; any other id is 404.",
    responses={**_LOGIN, 404: {"description": "You have no order with this id."}},
)
def get_order(
    order_id: Annotated[int, Path(ge=1, le=2**63 - 1, description="The order's id.")],
    account: AccountDep,
    session: SessionDep,
) -> OrderOut:
    return service.order_out(service.get_order(session, account_id=account.id, order_id=order_id))
