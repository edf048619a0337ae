"""The store's HTML pages: thin handlers over the same services the JSON API uses."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from marketplace.accounts import service as accounts
from marketplace.accounts.deps import (
    Shopper,
    ShopperDep,
    require_ordering_allowed,
    set_session_cookie,
)
from marketplace.accounts.models import Account
from marketplace.accounts.throttle import LoginThrottleDep, client_of
from marketplace.cart import service as cart
from marketplace.core.deps import NowDep, SessionDep, SettingsDep, VisitorClassDep
from marketplace.core.errors import ProblemError
from marketplace.core.security import new_token
from marketplace.core.settings import Settings
from marketplace.decide.deps import DecideConfigDep
from marketplace.orders import service as orders
from marketplace.orders.schemas import OrderCreate, PaymentIn
from marketplace.storefront import views
from marketplace.storefront.rendering import (
    CsrfDep,
    Flash,
    HtmlAccountDep,
    LoginRequired,
    StorefrontRoute,
    redirect,
    render,
    safe_next,
)

router = APIRouter(route_class=StorefrontRoute, include_in_schema=False)

ORDERS_PAGE_SIZE = 10
PAYMENT_LABELS = {"mock-card": "Card (simulated)", "mock-wallet": "Wallet (simulated)"}

ProductIdPath = Annotated[int, Path(ge=1, le=2**63 - 1)]  # 64-bit: larger ids overflow the driver
Quantity = Annotated[int, Form(ge=1, le=99)]


# --- Catalog pages ----------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def home(
    request: Request,
    shopper: ShopperDep,
    session: SessionDep,
    settings: SettingsDep,
    visitor_class: VisitorClassDep,
    now: NowDep,
) -> Response:
    page = views.home_page(session, shopper=shopper, visitor_class=visitor_class, now=now)
    return render(request, "home.html", settings=settings, shopper=shopper, session=session, **page)


@router.get("/search", response_class=HTMLResponse)
def search(
    request: Request,
    shopper: ShopperDep,
    session: SessionDep,
    settings: SettingsDep,
    visitor_class: VisitorClassDep,
    now: NowDep,
    q: Annotated[str, Query(max_length=200)] = "",
    category: Annotated[str, Query(max_length=64)] = "",
    min_price: Annotated[str, Query(max_length=20)] = "",
    max_price: Annotated[str, Query(max_length=20)] = "",
    min_rating: Annotated[str, Query(max_length=10)] = "",
    sort: Annotated[str, Query(max_length=20)] = "",
    page: Annotated[str, Query(max_length=10)] = "1",
) -> Response:
    # Query values arrive as text because an empty box in a GET form sends "": a typo in a
    # filter is explained on the page rather than turned into an error page.
    form = {
        "q": q,
        "category": category,
        "min_price": min_price,
        "max_price": max_price,
        "min_rating": min_rating,
        "sort": sort,
        "page": page,
    }
    result = views.search_page(session, form, shopper=shopper, visitor_class=visitor_class, now=now)
    return render(
        request, "search.html", settings=settings, shopper=shopper, session=session, **result
    )


@router.get("/products/{product_id}", response_class=HTMLResponse)
def product_page(
    product_id: ProductIdPath,
    request: Request,
    shopper: ShopperDep,
    session: SessionDep,
    settings: SettingsDep,
    config: DecideConfigDep,
    visitor_class: VisitorClassDep,
    now: NowDep,
    ad: Annotated[
        int | None,
        Query(ge=1, le=2**63 - 1, description="The ad impression this visit clicked."),
    ] = None,
) -> Response:
    page = views.product_page(
        session,
        product_id,
        shopper=shopper,
        now=now,
        config=config,
        ad_impression=ad,
        visitor_class=visitor_class,
    )
    return render(
        request, "product.html", settings=settings, shopper=shopper, session=session, **page
    )


@router.post("/help-me-decide", response_class=HTMLResponse, dependencies=[CsrfDep])
def help_me_decide(
    request: Request,
    shopper: ShopperDep,
    session: SessionDep,
    settings: SettingsDep,
    config: DecideConfigDep,
    now: NowDep,
    category: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    # Rendered directly rather than redirected: the picks are computed for this request, and
    # the same service answers the JSON endpoint, so both show the same picks and reasons.
    page = views.decide_page(
        session, category or None, shopper=shopper, now=now, config=config, llm=settings.llm
    )
    return render(
        request, "decide.html", settings=settings, shopper=shopper, session=session, **page
    )


# --- Accounts ---------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_page(
    request: Request,
    shopper: ShopperDep,
    session: SessionDep,
    settings: SettingsDep,
    next: Annotated[str, Query(max_length=500)] = "/",
) -> Response:
    if shopper.account is not None:
        return redirect(settings, safe_next(next))
    return _account_form(request, "login.html", shopper, session, settings, next, email="")


@router.post("/login", response_class=HTMLResponse, dependencies=[CsrfDep])
def login(
    request: Request,
    shopper: ShopperDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    throttle: LoginThrottleDep,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    client = client_of(request)
    throttle.check(email, client, now)  # a 429 page, the same limits as the API's login
    try:
        account = accounts.authenticate(session, email=email, password=password)
    except ProblemError as exc:
        throttle.failed(email, client)
        error = "That email and password do not match an account. Check both and try again."
        return _account_form(
            request,
            "login.html",
            shopper,
            session,
            settings,
            next,
            status_code=exc.status,
            error=error,
            email=email,
        )
    welcome = f"Welcome back, {account.name}."
    return _log_in(request, session, shopper, account, settings, now, next=next, welcome=welcome)


@router.get("/register", response_class=HTMLResponse)
def register_page(
    request: Request,
    shopper: ShopperDep,
    session: SessionDep,
    settings: SettingsDep,
    next: Annotated[str, Query(max_length=500)] = "/",
) -> Response:
    if shopper.account is not None:
        return redirect(settings, safe_next(next))
    return _account_form(
        request, "register.html", shopper, session, settings, next, name="", email=""
    )


@router.post("/register", response_class=HTMLResponse, dependencies=[CsrfDep])
def register(
    request: Request,
    shopper: ShopperDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    name: Annotated[str, Form(max_length=120)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    error = views.registration_problem(name=name, email=email, password=password)
    if error is None:
        try:
            account = accounts.register(session, email=email, password=password, name=name, now=now)
        except ProblemError as exc:
            error = (
                "An account with this email already exists; log in instead."
                if exc.type_slug == "email-taken"
                else exc.detail
            )
    if error is not None:
        return _account_form(
            request,
            "register.html",
            shopper,
            session,
            settings,
            next,
            status_code=422 if "already exists" not in error else 409,
            error=error,
            name=name,
            email=email,
        )
    session.flush()
    welcome = f"Welcome to {settings.store_name}, {account.name}. You are logged in."
    return _log_in(request, session, shopper, account, settings, now, next=next, welcome=welcome)


@router.post("/logout", dependencies=[CsrfDep])
def logout(
    request: Request, shopper: ShopperDep, session: SessionDep, settings: SettingsDep
) -> Response:
    if shopper.account is not None:
        accounts.end_session(session, shopper.session_token)
    set_session_cookie(request, None)
    return redirect(settings, "/", Flash("info", "You are logged out."))


def _account_form(
    request: Request,
    template: str,
    shopper: Shopper,
    session: Session,
    settings: Settings,
    next: str,
    *,
    status_code: int = 200,
    error: str | None = None,
    **typed: str,
) -> Response:
    """The login or register form, holding what the visitor typed (never the password) and,
    after a refused post, why it was refused."""
    return render(
        request,
        template,
        settings=settings,
        shopper=shopper,
        session=session,
        status_code=status_code,
        next=safe_next(next),
        error=error,
        **typed,
    )


def _log_in(
    request: Request,
    session: Session,
    shopper: Shopper,
    account: Account,
    settings: Settings,
    now: datetime,
    *,
    next: str,
    welcome: str,
) -> Response:
    """Log the browser in as `account` and send it on to `next` with a welcome message."""
    # A brand-new token on every login, never the anonymous one the browser arrived with, so a
    # session id planted before login is worthless afterwards; the anonymous history is kept.
    issued = accounts.start_session(
        session,
        account,
        now=now,
        max_age_s=settings.session_max_age_s,
        kind="browser",
        previous_session_key=None if shopper.account else shopper.session_key,
    )
    if shopper.account is not None:
        accounts.end_session(session, shopper.session_token)
    set_session_cookie(request, issued.token)
    return redirect(settings, safe_next(next), Flash("success", welcome))


# --- Cart -------------------------------------------------------------------------------------


@router.get("/cart", response_class=HTMLResponse)
def cart_page(
    request: Request,
    account: HtmlAccountDep,
    shopper: ShopperDep,
    session: SessionDep,
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
    product_id: Annotated[int, Form(ge=1)],
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


# --- Checkout and orders ----------------------------------------------------------------------


@router.get("/checkout", response_class=HTMLResponse)
def checkout_page(
    request: Request,
    account: HtmlAccountDep,
    shopper: ShopperDep,
    session: SessionDep,
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
    message = (
        f"Thank you! Order #{placed.order.id} is placed."
        if placed.created
        else f"Order #{placed.order.id} was already placed; it was not placed twice."
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
        payment_label=PAYMENT_LABELS.get(order.payment.method, order.payment.method),
    )
