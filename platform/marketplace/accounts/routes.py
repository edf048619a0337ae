"""Account and session endpoints."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from marketplace.accounts import service
from marketplace.accounts.deps import (
    AccountDep,
    LoginHooksDep,
    NewPasswordHashDep,
    ShopperDep,
    VerifiedLoginDep,
    login_client,
    set_session_cookie,
)
from marketplace.accounts.schemas import AccountCreate, AccountOut, TokenOut
from marketplace.core.deps import NowDep, SessionDep, SettingsDep

router = APIRouter(prefix="/api/v1", tags=["accounts"])


@router.post(
    "/accounts",
    status_code=status.HTTP_201_CREATED,
    response_model=AccountOut,
    summary="Register a shopper account",
    responses={
        403: {"description": "The address is reserved (workshop teams' domain)."},
        409: {"description": "An account with this email already exists."},
    },
)
def create_account(
    password_hash: NewPasswordHashDep,  # before the session: hashed outside its turn
    body: AccountCreate,
    session: SessionDep,
    now: NowDep,
) -> AccountOut:
    account = service.register(
        session, email=body.email, password_hash=password_hash, name=body.name, now=now
    )
    session.flush()
    return AccountOut.model_validate(account)


@router.post(
    "/sessions",
    response_model=TokenOut,
    summary="Log in",
    description="Checks the email and password, sets the HttpOnly session cookie for browsers "
    "and returns a bearer token for API clients. A new session is started on every login.",
    responses={
        401: {"description": "The email or the password is wrong."},
        429: {"description": "Too many failed logins for this account or from this address."},
    },
)
def login(
    verified: VerifiedLoginDep,  # before the session: the hash is checked outside its turn
    request: Request,
    shopper: ShopperDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    login_hooks: LoginHooksDep,
) -> TokenOut:
    account = service.log_in_verified(session, verified)
    issued = service.start_session(
        session,
        account,
        now=now,
        max_age_s=settings.session_max_age_s,
        client=login_client(request),
        previous_session_key=None if shopper.account else shopper.session_key,
        login_hooks=login_hooks,
    )
    set_session_cookie(request, issued.token)
    return TokenOut(access_token=issued.token, expires_at=issued.expires_at)


@router.delete(
    "/sessions/current",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Log out",
    description="Ends the current session (cookie or bearer token) and clears the cookie.",
)
def logout(request: Request, shopper: ShopperDep, session: SessionDep) -> Response:
    if shopper.account is not None:
        service.end_session(session, shopper.session_token)
    set_session_cookie(request, None)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=AccountOut, summary="The logged-in account")
def me(account: AccountDep) -> AccountOut:
    return AccountOut.model_validate(account)
