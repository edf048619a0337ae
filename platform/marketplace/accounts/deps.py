"""Who is asking: the logged-in account (cookie or bearer token) or an anonymous session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from marketplace.accounts import service
from marketplace.accounts.anonymous import AnonymousTokens
from marketplace.accounts.models import Account
from marketplace.accounts.schemas import AccountCreate, LoginRequest
from marketplace.accounts.service import LoginHook, VerifiedLogin
from marketplace.accounts.throttle import LoginThrottle, client_of
from marketplace.core.appstate import request_state
from marketplace.core.deps import NowDep
from marketplace.core.errors import Forbidden, Unauthorized
from marketplace.core.security import (
    SESSION_COOKIE,
    CookieSigner,
    client_fingerprint,
    hash_token,
    new_token,
)


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
    return request_state(request).cookie_signer


def set_session_cookie(request: Request, token: str | None) -> None:
    """Ask the cookie middleware to set (or, with None, clear) the session cookie."""
    request.state.session_cookie = cookie_signer(request).dumps(token) if token else ""


def login_client(request: Request) -> str:
    """The fingerprint a login stores: the client's address and user agent, as the gate reads
    them (repeated User-Agent headers joined, as the gate joins them)."""
    return client_fingerprint(client_of(request), ", ".join(request.headers.getlist("user-agent")))


def anonymous_tokens(request: Request) -> AnonymousTokens:
    return request_state(request).anonymous_tokens


def resolve_shopper(request: Request, session: Session, now: datetime) -> Shopper:
    """The caller: the account of the bearer token or session cookie, or an anonymous session
    (a new one, with its cookie set, when the request brought none)."""
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
    known = _known_anonymous(request)
    if known is not None:
        return known
    cookie_token = _cookie_token(request)
    if cookie_token:
        account = service.account_for_token(session, cookie_token, now=now)
        if account is None:
            anonymous_tokens(request).remember(hash_token(cookie_token))
        return Shopper(account=account, session_token=cookie_token, via="cookie")
    fresh = new_token()
    set_session_cookie(request, fresh)
    anonymous_tokens(request).remember(hash_token(fresh))
    return Shopper(account=None, session_token=fresh, via="new")


def _cookie_token(request: Request) -> str | None:
    raw = request.cookies.get(SESSION_COOKIE)
    return cookie_signer(request).loads(raw) if raw else None


def _known_anonymous(request: Request) -> Shopper | None:
    """The anonymous shopper whose cookie is known to own no account, without a lookup."""
    if "authorization" in request.headers:
        return None
    token = _cookie_token(request)
    if token and hash_token(token) in anonymous_tokens(request):
        return Shopper(account=None, session_token=token, via="cookie")
    return None


async def get_shopper(request: Request, now: NowDep) -> Shopper:
    """`resolve_shopper` on a read connection of its own, asked only when the token may belong
    to an account: an anonymous visitor's request costs no lookup and no transaction."""
    known = _known_anonymous(request)
    if known is not None:
        return known
    database = request_state(request).db

    def lookup(connection: Connection) -> Shopper:
        # The account is only read here; routes that change accounts load their own copy.
        with Session(bind=connection, expire_on_commit=False) as session:
            return resolve_shopper(request, session, now)

    shopper = await database.read(lookup)
    if shopper.account is not None:
        # The gate's log attributes the request to the account the store authenticated (and to
        # its workshop team), rather than to whatever credential the request carried.
        request.state.account_id = shopper.account.id
        request.state.team = shopper.account.team
    return shopper


ShopperDep = Annotated[Shopper, Depends(get_shopper)]


# The two ways to send a shopper's session, declared for the API description (security schemes
# in /openapi.json). They never refuse (auto_error=False): `resolve_shopper` reads the same headers
# and answers with the problem that says what to do.
SHOPPER_BEARER = HTTPBearer(
    scheme_name="bearerAuth",
    description="A shopper's session: the `access_token` from POST /api/v1/sessions, sent as "
    "'Authorization: Bearer <access_token>'.",
    auto_error=False,
)
SHOPPER_COOKIE = APIKeyCookie(
    name=SESSION_COOKIE,
    scheme_name="sessionCookie",
    description="A shopper's session: the signed cookie set by POST /api/v1/sessions (and, for "
    "an anonymous session, by the first answer that needs one).",
    auto_error=False,
)


async def require_account(
    shopper: ShopperDep,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(SHOPPER_BEARER)],
    _cookie: Annotated[str | None, Security(SHOPPER_COOKIE)],
) -> Account:
    """The logged-in account, or a 401 that says how to log in."""
    if shopper.account is None:
        raise Unauthorized(
            "Log in first: POST /api/v1/sessions with your email and password, then send the "
            "session cookie or 'Authorization: Bearer <access_token>'.",
            type_slug="login-required",
        )
    return shopper.account


def suspended_detail(reason: str | None) -> str:
    """The refusal a suspended account gets: its reason as whole sentences, then the remedy."""
    why = (reason or "").strip()
    if why and why[-1] not in ".!?":
        why += "."
    why = why or "Its traffic was flagged as automated under the store's terms."
    return (
        f"Ordering is suspended on this account. {why} Ask the store to review it: an "
        "administrator can reinstate the account."
    )


def require_ordering_allowed(
    account: Annotated[Account, Depends(require_account)],
) -> Account:
    """Refuse accounts whose ordering was suspended for agent-driven use."""
    if account.status == "suspended":
        raise Forbidden(suspended_detail(account.status_reason), type_slug="account-suspended")
    return account


AccountDep = Annotated[Account, Depends(require_account)]
OrderingAccountDep = Annotated[Account, Depends(require_ordering_allowed)]


async def get_login_throttle(request: Request) -> LoginThrottle:
    return request_state(request).login_throttle


async def get_login_hooks(request: Request) -> tuple[LoginHook, ...]:
    return request_state(request).login_hooks


LoginThrottleDep = Annotated[LoginThrottle, Depends(get_login_throttle)]
LoginHooksDep = Annotated[tuple[LoginHook, ...], Depends(get_login_hooks)]


async def verify_credentials(
    request: Request, throttle: LoginThrottle, now: datetime, *, email: str, password: str
) -> VerifiedLogin:
    """Throttle, then check the password on a reader in a worker thread; a failure counts.

    Routes ask for this through a dependency declared before their database session, so the
    hash is computed before the request takes its turn at the database (on SQLite one at a
    time): a login no longer holds up every other writer."""
    client = client_of(request)
    throttle.check(email, client, now)
    database = request_state(request).db

    def verify() -> VerifiedLogin:
        with database.reader() as connection:
            account = service.password_of(connection, email)
        return service.verify_password(account, password)

    try:
        return await run_in_threadpool(verify)
    except Unauthorized:
        throttle.failed(email, client)
        raise


async def verified_api_login(
    request: Request,
    body: LoginRequest,
    throttle: LoginThrottleDep,
    now: NowDep,
    _shopper: ShopperDep,  # a bad bearer token is answered first, before any hashing
) -> VerifiedLogin:
    return await verify_credentials(
        request, throttle, now, email=body.email, password=body.password
    )


VerifiedLoginDep = Annotated[VerifiedLogin, Depends(verified_api_login)]


async def hashed_password(password: str) -> str:
    """`password` hashed in a worker thread: a dependency declared before the route's database
    session, so the request takes its turn at the database only once the hash is done."""
    return await run_in_threadpool(service.hash_password, password)


async def hashed_api_password(body: AccountCreate) -> str:
    return await hashed_password(body.password)


NewPasswordHashDep = Annotated[str, Depends(hashed_api_password)]
