"""The cart page and its forms: add a product, change a quantity, remove a line."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from marketplace.accounts.deps import ShopperDep
from marketplace.cart import service as cart
from marketplace.core.deps import NowDep, ReadSessionDep, SessionDep, SettingsDep
from marketplace.core.errors import ProblemError
from marketplace.core.ids import MAX_ID
from marketplace.storefront import views
from marketplace.storefront.pages.params import ProductIdPath
from marketplace.storefront.rendering import (
    CsrfDep,
    Flash,
    HtmlAccountDep,
    LoginRequired,
    StorefrontRoute,
    redirect,
    render,
)

router = APIRouter(route_class=StorefrontRoute, include_in_schema=False)

Quantity = Annotated[int, Form(ge=1, le=99)]


@router.get("/cart", response_class=HTMLResponse)
def cart_page(
    request: Request,
    account: HtmlAccountDep,
    shopper: ShopperDep,
    session: ReadSessionDep,  # a read: it waits for no writer
    settings: SettingsDep,
) -> Response:
    return render(
        request,
        "cart.html",
        settings=settings,
        shopper=shopper,
        session=session,
        cart=cart.cart_view(session, account.id),
    )


@router.post("/cart/items", dependencies=[CsrfDep])
def add_to_cart(
    shopper: ShopperDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    product_id: Annotated[int, Form(ge=1, le=MAX_ID)],
    quantity: Quantity = 1,
) -> Response:
    product_url = f"/products/{product_id}"
    if shopper.account is None:
        raise LoginRequired(product_url, "Log in or create an account to add items to your cart.")
    try:
        # A savepoint, so a refused add leaves nothing behind while the page still commits.
        with session.begin_nested():
            result = cart.add_item(
                session,
                account_id=shopper.account.id,
                product_id=product_id,
                quantity=quantity,
                now=now,
                session_key=shopper.session_key,
            )
    except ProblemError as exc:
        if exc.status == 404:
            raise
        return redirect(settings, product_url, Flash("error", views.shopper_message(exc)))
    added = next((line for line in result.items if line.product_id == product_id), None)
    title = added.title if added else f"Product {product_id}"
    return redirect(
        settings,
        "/cart",
        Flash("success", f"Added {quantity} × {title} to your cart."),
    )


@router.post("/cart/items/{product_id}", dependencies=[CsrfDep])
def update_cart_line(
    product_id: ProductIdPath,
    account: HtmlAccountDep,
    shopper: ShopperDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    quantity: Quantity,
) -> Response:
    try:
        with session.begin_nested():
            cart.set_quantity(
                session,
                account_id=account.id,
                product_id=product_id,
                quantity=quantity,
                now=now,
                session_key=shopper.session_key,
            )
    except ProblemError as exc:
        return redirect(settings, "/cart", Flash("error", views.shopper_message(exc)))
    return redirect(settings, "/cart", Flash("success", "Quantity updated."))


@router.post("/cart/items/{product_id}/remove", dependencies=[CsrfDep])
def remove_cart_line(
    product_id: ProductIdPath,
    account: HtmlAccountDep,
    shopper: ShopperDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    try:
        with session.begin_nested():
            cart.remove_item(
                session,
                account_id=account.id,
                product_id=product_id,
                now=now,
                session_key=shopper.session_key,
            )
    except ProblemError as exc:
        return redirect(settings, "/cart", Flash("error", views.shopper_message(exc)))
    return redirect(settings, "/cart", Flash("info", "Item removed from your cart."))
