"""Admin authentication: the bearer token for scripts, a signed cookie for the dashboard."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from itsdangerous import BadSignature, URLSafeTimedSerializer

from marketplace.core.appstate import request_state
from marketplace.core.errors import Forbidden, Unauthorized
from marketplace.core.security import constant_time_equals, csrf_token, csrf_valid

ADMIN_COOKIE = "nile_admin"
ADMIN_COOKIE_MAX_AGE_S = 12 * 3600


def _serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(request_state(request).settings.secret_key, salt="admin-cookie")


def admin_cookie_value(request: Request) -> str:
    """A signed, expiring proof that this browser gave the right admin token."""
    return _serializer(request).dumps("admin")


def has_admin_cookie(request: Request) -> bool:
    raw = request.cookies.get(ADMIN_COOKIE)
    if not raw:
        return False
    try:
        return bool(_serializer(request).loads(raw, max_age=ADMIN_COOKIE_MAX_AGE_S) == "admin")
    except BadSignature:
        return False


def admin_token_valid(request: Request, token: str) -> bool:
    expected: str = request_state(request).settings.admin_token
    return constant_time_equals(token.strip(), expected)


# Declared for the API description (security schemes in /openapi.json); they never refuse
# (auto_error=False): `require_admin` checks the same headers and says what to send.
ADMIN_BEARER = HTTPBearer(
    scheme_name="adminToken",
    description="The store owner's token: 'Authorization: Bearer <SANDBOX_ADMIN_TOKEN>'.",
    auto_error=False,
)
ADMIN_COOKIE_SCHEME = APIKeyCookie(
    name=ADMIN_COOKIE,
    scheme_name="adminCookie",
    description="Set by the dashboard's log-in form (/dashboard) for the browser that gave the "
    "admin token.",
    auto_error=False,
)


def require_admin(
    request: Request,
    _token: Annotated[HTTPAuthorizationCredentials | None, Security(ADMIN_BEARER)],
    _cookie: Annotated[str | None, Security(ADMIN_COOKIE_SCHEME)],
) -> None:
    """The admin bearer token (SANDBOX_ADMIN_TOKEN, compared in constant time) or the cookie."""
    auth = request.headers.get("authorization", "")
    if not auth and has_admin_cookie(request):
        return
    scheme, _, token = auth.partition(" ")
    if not auth or scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "This is an admin endpoint: send 'Authorization: Bearer <SANDBOX_ADMIN_TOKEN>'.",
            type_slug="admin-token-required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not admin_token_valid(request, token):
        raise Forbidden(
            "The admin token is wrong; use the value of SANDBOX_ADMIN_TOKEN the store runs with.",
            type_slug="admin-token-wrong",
        )


AdminDep = Annotated[None, Depends(require_admin)]


def admin_csrf_token(request: Request) -> str:
    """The CSRF token of the dashboard's own forms, bound to the admin cookie.

    Bound to the admin cookie rather than the shopper session, so these forms need no database
    session: switching the policy writes through the gate's own connection, which must not wait
    behind a transaction the same request holds.
    """
    secret: str = request_state(request).settings.secret_key
    return csrf_token(secret, "admin:" + request.cookies.get(ADMIN_COOKIE, ""))


async def require_admin_form(request: Request) -> None:
    """An admin cookie and this form's CSRF token, or a 403 that says what to do."""
    if not has_admin_cookie(request):
        raise Forbidden("Open /dashboard and enter the admin token first.", type_slug="admin-login")
    form = await request.form()
    candidate = form.get("csrf_token")
    secret: str = request_state(request).settings.secret_key
    if not isinstance(candidate, str) or not csrf_valid(
        secret, "admin:" + request.cookies.get(ADMIN_COOKIE, ""), candidate
    ):
        raise Forbidden(
            "This form has expired or did not come from the dashboard; reload it and try again.",
            type_slug="csrf-failed",
        )
