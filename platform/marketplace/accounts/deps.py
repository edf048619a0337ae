"""Who is asking: the logged-in account (cookie or bearer token) or an anonymous session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from marketplace.accounts import service
from marketplace.accounts.models import Account
from marketplace.core.deps import NowDep, SessionDep
from marketplace.core.errors import Forbidden, Unauthorized
from marketplace.core.security import SESSION_COOKIE, CookieSigner, hash_token, new_token


@dataclass(frozen=True)
class Shopper:
    """The caller. `session_key` is the hash under which its history is recorded."""

    account: Account | None
    session_token: str
    via: str  # "bearer" | "cookie" | "new"

    @property
    def session_key(self) -> str:
        return hash_token(self.session_token)

    @property
    def account_id(self) -> int | None:
        return self.account.id if self.account else None


def cookie_signer(request: Request) -> CookieSigner:
    signer: CookieSigner = request.app.state.cookie_signer
    return signer


def set_session_cookie(request: Request, token: str | None) -> None:
    """Ask the cookie middleware to set (or, with None, clear) the session cookie."""
    request.state.session_cookie = cookie_signer(request).dumps(token) if token else ""


def get_shopper(request: Request, session: SessionDep, now: NowDep) -> Shopper:
    auth = request.headers.get("authorization", "")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized(
                "The Authorization header must be 'Bearer <token>' with a token from "
                "POST /api/v1/sessions.",
                type_slug="bad-token",
            )
        account = service.account_for_token(session, token.strip(), now=now)
        if account is None:
            raise Unauthorized(
                "This bearer token is unknown or expired; log in again with POST /api/v1/sessions.",
                type_slug="bad-token",
            )
        return Shopper(account=account, session_token=token.strip(), via="bearer")
    raw = request.cookies.get(SESSION_COOKIE)
    cookie_token = cookie_signer(request).loads(raw) if raw else None
    if cookie_token:
        account = service.account_for_token(session, cookie_token, now=now)
        return Shopper(account=account, session_token=cookie_token, via="cookie")
    fresh = new_token()
    set_session_cookie(request, fresh)
    return Shopper(account=None, session_token=fresh, via="new")


ShopperDep = Annotated[Shopper, Depends(get_shopper)]


def require_account(shopper: ShopperDep) -> Account:
    """The logged-in account, or a 401 that says how to log in."""
    if shopper.account is None:
        raise Unauthorized(
            "Log in first: POST /api/v1/sessions with your email and password, then send the "
            "session cookie or 'Authorization: Bearer <access_token>'.",
            type_slug="login-required",
        )
    return shopper.account


def require_ordering_allowed(account: Annotated[Account, Depends(require_account)]) -> Account:
    """Refuse accounts whose ordering was suspended for agent-driven use."""
    if account.status == "suspended":
        raise Forbidden(
            f"Ordering is suspended on this account: {account.status_reason or 'terms of service'}"
            ". Contact support to have it reviewed.",
            type_slug="account-suspended",
        )
    return account


AccountDep = Annotated[Account, Depends(require_account)]
OrderingAccountDep = Annotated[Account, Depends(require_ordering_allowed)]
