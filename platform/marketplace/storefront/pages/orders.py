"""Checkout, the order history and one order's page."""

from __future__ import annotations

import math
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from marketplace.accounts.deps import ShopperDep, require_ordering_allowed
from marketplace.cart import service as cart
from marketplace.core.deps import NowDep, ReadSessionDep, SessionDep, SettingsDep, VisitorClassDep
from marketplace.core.errors import ProblemError
from marketplace.core.security import new_token
from marketplace.orders import service as orders
from marketplace.orders.schemas import OrderCreate, PaymentIn
from marketplace.storefront import views
from marketplace.storefront.rendering import (
    CsrfDep,
    Flash,
    HtmlAccountDep,
    StorefrontRoute,
    redirect,
    render,
)

router = APIRouter(route_class=StorefrontRoute, include_in_schema=False)

ORDERS_PAGE_SIZE = 10
PAYMENT_LABELS = {"mock-card": "Card (simulated)", "mock-wallet": "Wallet (simulated)"}


@router.get("/checkout", response_class=HTMLResponse)
def checkout_page(
    request: Request,
    account: HtmlAccountDep,
    shopper: ShopperDep,
    session: ReadSessionDep,  # a read: it waits for no writer
    settings: SettingsDep,
) -> Response:
    current = cart.cart_view(session, account.id)
    if not current.items:
        return redirect(
            settings, "/cart", Flash("info", "Your cart is empty; add something before checkout.")
        )
    return render(
        request,
        "checkout.html",
        settings=settings,
        shopper=shopper,
        session=session,
        cart=current,
        idempotency_key=new_token(),
    )


@router.post("/checkout", dependencies=[CsrfDep])
def place_order(
    account: HtmlAccountDep,
    shopper: ShopperDep,
    session: SessionDep,
    settings: SettingsDep,
    visitor_class: VisitorClassDep,
    now: NowDep,
    idempotency_key: Annotated[str, Form(max_length=255)] = "",
    payment_method: Annotated[str, Form(max_length=32)] = "mock-card",
    card_last4: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    require_ordering_allowed(account)
    try:
        payment = PaymentIn.model_validate(
            {
                "method": payment_method,
                "card_last4": (card_last4.strip() or None)
                if payment_method == "mock-card"
                else None,
            }
        )
    except ValidationError:
        return redirect(
            settings,
            "/checkout",
            Flash(
                "error",
                "The last four digits must be exactly four digits (or left empty); "
                "never enter a full card number.",
            ),
        )
    try:
        with session.begin_nested():
            placed = orders.place_order(
                session,
                account_id=account.id,
                idempotency_key=idempotency_key,
                request=OrderCreate(payment=payment),
                channel=visitor_class,
                now=now,
                session_key=shopper.session_key,
            )
    except ProblemError as exc:
        target = "/cart" if exc.type_slug in ("out-of-stock", "empty-cart") else "/checkout"
        return redirect(settings, target, Flash("error", views.shopper_message(exc)))
    number = orders.shopper_order_numbers(session, account_id=account.id)[placed.order.id]
    message = (
        f"Thank you! Order #{number} is placed."
        if placed.created
        else f"Order #{number} was already placed; it was not placed twice."
    )
    return redirect(settings, f"/orders/{placed.order.id}", Flash("success", message))


@router.get("/orders", response_class=HTMLResponse)
def orders_page(
    request: Request,
    account: HtmlAccountDep,
    shopper: ShopperDep,
    session: SessionDep,
    settings: SettingsDep,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    listing = orders.list_orders(
        session, account_id=account.id, page=page, page_size=ORDERS_PAGE_SIZE
    )
    return render(
        request,
        "orders.html",
        settings=settings,
        shopper=shopper,
        session=session,
        orders=listing.items,
        numbers=orders.shopper_order_numbers(session, account_id=account.id),
        page=page,
        pages=max(1, math.ceil(listing.total / ORDERS_PAGE_SIZE)),
        page_link=lambda p: "/orders?" + urlencode({"page": p}, quote_via=quote),
    )


@router.get("/orders/{order_id}", response_class=HTMLResponse)
def order_page(
    order_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    request: Request,
    account: HtmlAccountDep,
    shopper: ShopperDep,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    order = orders.order_out(orders.get_order(session, account_id=account.id, order_id=order_id))
    return render(
        request,
        "order.html",
        settings=settings,
        shopper=shopper,
        session=session,
        order=order,
        number=orders.shopper_order_numbers(session, account_id=account.id)[order.id],
        payment_label=PAYMENT_LABELS.get(order.payment.method, order.payment.method),
    )
