"""The storefront's plumbing: templates, flash messages, CSRF, login redirects and error pages."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from itsdangerous import BadSignature, URLSafeSerializer
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy.orm import Session

from marketplace.accounts.deps import Shopper, ShopperDep
from marketplace.accounts.models import Account
from marketplace.cart.service import cart_lines
from marketplace.core.appstate import request_state
from marketplace.core.deps import SettingsDep
from marketplace.core.errors import ProblemError
from marketplace.core.security import SESSION_COOKIE, csrf_token, csrf_valid
from marketplace.core.settings import Settings

STATIC_DIR = Path(__file__).parent / "static"
FLASH_COOKIE = "nile_flash"
CSRF_FIELD = "csrf_token"

# Pages are self-contained: styles and the beacon come from /static, nothing inline, no third
# parties; a form may only post back to the store.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def _money(value: float | int | None, currency: str = "USD") -> str:
    if value is None:
        return ""
    symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get(currency)
    amount = f"{float(value):,.2f}"
    return f"{symbol}{amount}" if symbol else f"{amount} {currency}"


def _number(value: float | int | None) -> str:
    return "" if value is None else f"{value:,}"


def _stars(rating: float | None) -> str:
    """Five characters of filled and empty stars, rounded to the nearest whole star."""
    filled = max(0, min(5, round(float(rating or 0))))
    return "★" * filled + "☆" * (5 - filled)


def _build_environment() -> Environment:
    env = Environment(
        loader=PackageLoader("marketplace.storefront", "templates"),
        autoescape=select_autoescape(["html"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = _money
    env.filters["number"] = _number
    env.filters["stars"] = _stars
    return env


templates = _build_environment()


# --- Flash messages ---------------------------------------------------------------------------
# Kept in a short-lived signed cookie so they survive the redirect after a POST without a
# server-side store; signing stops a third party from planting messages in the store's pages.


@dataclass(frozen=True)
class Flash:
    level: str  # "info" | "success" | "error"
    text: str


def _flash_serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(settings.secret_key, salt="storefront-flash")


def read_flashes(request: Request, settings: Settings) -> list[Flash]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return []
    try:
        data = _flash_serializer(settings).loads(raw)
    except BadSignature:
        return []
    if not isinstance(data, list):
        return []
    return [
        Flash(level=str(item[0]), text=str(item[1]))
        for item in data
        if isinstance(item, list) and len(item) == 2
    ]


def redirect(
    settings: Settings, url: str, *flashes: Flash, headers: Mapping[str, str] | None = None
) -> RedirectResponse:
    """A 303 See Other (the browser follows with a GET), carrying flash messages for that page."""
    response = RedirectResponse(url, status_code=303, headers=dict(headers or {}))
    if flashes:
        value = _flash_serializer(settings).dumps([[f.level, f.text] for f in flashes])
        response.set_cookie(
            FLASH_COOKIE,
            value,
            max_age=120,
            path="/",
            httponly=True,
            samesite="lax",
            secure=settings.secure_cookies,
        )
    return response


def safe_next(candidate: str | None, default: str = "/") -> str:
    """A local path to go back to; anything that could leave the store becomes `default`."""
    if not candidate or not candidate.startswith("/") or candidate.startswith("//"):
        return default
    if "\\" in candidate or any(ord(ch) < 32 for ch in candidate):
        return default
    return candidate


# --- Login and CSRF ---------------------------------------------------------------------------


class LoginRequired(Exception):
    """Raised by pages that need an account; becomes a redirect to the login page."""

    def __init__(self, next_url: str, message: str) -> None:
        super().__init__(message)
        self.next_url = next_url
        self.message = message


def _back_to(request: Request) -> str:
    """Where to return after logging in: the page itself for a GET; for a form post, the page
    the form was on (a GET of the form's own URL would not work)."""
    if request.method == "GET":
        return request.url.path + (f"?{request.url.query}" if request.url.query else "")
    referer = request.headers.get("referer", "")
    origin = str(request.base_url)
    if referer.startswith(origin):
        return safe_next("/" + referer[len(origin) :])
    return "/"


def require_html_account(request: Request, shopper: ShopperDep) -> Account:
    """The logged-in account; anonymous visitors are sent to log in and brought back after."""
    if shopper.account is None:
        raise LoginRequired(_back_to(request), "Log in to see that page.")
    return shopper.account


HtmlAccountDep = Annotated[Account, Depends(require_html_account)]


async def require_csrf(request: Request, shopper: ShopperDep, settings: SettingsDep) -> None:
    """Refuse a form post that does not carry this session's CSRF token.

    The token is an HMAC of the session token, so a page of another site cannot know it; a
    visitor without a session cookie (a fresh session was just made up) can never pass.
    """
    form = await request.form()
    candidate = form.get(CSRF_FIELD)
    if not isinstance(candidate, str) or not csrf_valid(
        settings.secret_key, shopper.session_token, candidate
    ):
        raise ProblemError(
            "This form was sent without its security token, or the token belongs to an earlier "
            "session (for example after logging in or out in another tab). Go back, reload the "
            "page and send the form again.",
            status=403,
            title="Form refused: security token missing or expired",
            type_slug="csrf-failed",
        )


CsrfDep = Depends(require_csrf)


# --- Rendering --------------------------------------------------------------------------------


def beacon_available() -> bool:
    """The gate's interaction beacon is included once it exists; pages never depend on it."""
    return (STATIC_DIR / "beacon.js").is_file()


def beacon_token(request: Request) -> str:
    """The token this page gives its beacon, for the session its beacon will come from."""
    app = request_state(request)
    # The cookie this response sets (empty when it clears it), else the one the request brought.
    pending = getattr(request.state, "session_cookie", None)
    cookie = pending if pending is not None else request.cookies.get(SESSION_COOKIE)
    facts = getattr(request.state, "gate_facts", None)
    client_ip = getattr(facts, "client_ip", None)
    if client_ip is None and request.client is not None:
        client_ip = request.client.host
    return app.identity.tracker.beacon_token(
        cookie or None,
        client_ip,
        request.headers.get("user-agent", ""),
        app.clock().timestamp(),
    )


def base_context(
    request: Request, settings: Settings, shopper: Shopper | None, session: Session | None
) -> dict[str, Any]:
    account = shopper.account if shopper else None
    cart_count = 0
    if account is not None and session is not None:
        cart_count = sum(line.quantity for line in cart_lines(session, account.id))
    return {
        "store_name": settings.store_name,
        "currency": settings.currency,
        "account": account,
        # Error pages are drawn after the failing request's session is gone, so they cannot
        # tell whether the visitor is logged in; their header then offers links that fit both.
        "account_known": shopper is not None,
        "csrf_token": csrf_token(settings.secret_key, shopper.session_token) if shopper else "",
        "cart_count": cart_count,
        "path": request.url.path,
        "current_url": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "header_query": request.query_params.get("q", ""),
        "flashes": read_flashes(request, settings),
        "beacon": beacon_available(),
        "beacon_token": beacon_token(request),
    }


def render(
    request: Request,
    template: str,
    *,
    settings: Settings,
    shopper: Shopper | None,
    session: Session | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render a page in the base layout; shown flash messages are cleared."""
    page = base_context(request, settings, shopper, session)
    page.update(context)
    body = templates.get_template(template).render(page)
    response = HTMLResponse(body, status_code=status_code, headers=SECURITY_HEADERS)
    if request.cookies.get(FLASH_COOKIE):
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def error_page(
    request: Request,
    status_code: int,
    title: str,
    detail: str,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """An error in the store's layout; the header is generic because the failing request's
    database session is gone by now."""
    settings = request_state(request).settings
    response = render(
        request,
        "error.html",
        settings=settings,
        shopper=None,
        session=None,
        status_code=status_code,
        title=title,
        detail=detail,
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _validation_detail(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "The form was incomplete; go back and check it."
    first = errors[0]
    field = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
    return f"The field '{field}' {str(first.get('msg', 'is invalid')).lower()}; go back and fix it."


class StorefrontRoute(APIRoute):
    """Errors on store pages become HTML pages in the store's layout, whatever the Accept header.

    The errors propagate through the request's session dependency first, so anything the
    failing request wrote is rolled back before the page is shown.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def storefront_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired as exc:
                settings = request_state(request).settings
                target = "/login?" + urlencode({"next": exc.next_url}, quote_via=quote)
                return redirect(settings, target, Flash("info", exc.message))
            except ProblemError as exc:
                return error_page(request, exc.status, exc.title, exc.detail, exc.headers)
            except RequestValidationError as exc:
                if any(p == "path" for e in exc.errors() for p in e.get("loc", ())[:1]):
                    return error_page(
                        request,
                        404,
                        "Page not found",
                        f"There is no page at {request.url.path}.",
                    )
                return error_page(request, 422, "Please check the form", _validation_detail(exc))

        return storefront_handler
