"""Account pages: logging in, registering and logging out."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from marketplace.accounts import service as accounts
from marketplace.accounts.deps import (
    LoginHooksDep,
    LoginThrottleDep,
    Shopper,
    ShopperDep,
    hashed_password,
    login_client,
    set_session_cookie,
    verify_credentials,
)
from marketplace.accounts.models import Account
from marketplace.accounts.service import LoginHook, VerifiedLogin
from marketplace.core.deps import NowDep, SessionDep, SettingsDep
from marketplace.core.errors import ProblemError, Unauthorized
from marketplace.core.settings import Settings
from marketplace.storefront import views
from marketplace.storefront.rendering import (
    CsrfDep,
    Flash,
    StorefrontRoute,
    redirect,
    render,
    safe_next,
)

router = APIRouter(route_class=StorefrontRoute, include_in_schema=False)


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


@dataclass(frozen=True)
class FormLogin:
    """The login form's email, and its credentials checked (None: they open no account)."""

    email: str
    verified: VerifiedLogin | None


async def verified_form_login(
    request: Request,
    throttle: LoginThrottleDep,
    now: NowDep,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
) -> FormLogin:
    """As the API's login: throttled (a 429 page), the hash checked before the session."""
    try:
        verified = await verify_credentials(request, throttle, now, email=email, password=password)
    except Unauthorized:
        return FormLogin(email, None)
    return FormLogin(email, verified)


@router.post("/login", response_class=HTMLResponse, dependencies=[CsrfDep])
def login(
    form: Annotated[FormLogin, Depends(verified_form_login)],  # before the session
    request: Request,
    shopper: ShopperDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    login_hooks: LoginHooksDep,
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    account = None
    if form.verified is not None:
        with contextlib.suppress(Unauthorized):
            account = accounts.log_in_verified(session, form.verified)
    if account is None:
        error = "That email and password do not match an account. Check both and try again."
        return _account_form(
            request,
            "login.html",
            shopper,
            session,
            settings,
            next,
            status_code=Unauthorized.status,
            error=error,
            email=form.email,
        )
    welcome = f"Welcome back, {account.name}."
    return _log_in(
        request, session, shopper, account, settings, now, login_hooks, next=next, welcome=welcome
    )


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


@dataclass(frozen=True)
class RegistrationForm:
    """The registration form, its problem if any, and the password hashed if there is none."""

    name: str
    email: str
    error: str | None
    password_hash: str | None


async def hashed_registration_form(
    name: Annotated[str, Form(max_length=120)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
) -> RegistrationForm:
    """As the API's registration: the password hashed before the session (and only for a
    form without a problem)."""
    error = views.registration_problem(name=name, email=email, password=password)
    password_hash = None if error else await hashed_password(password)
    return RegistrationForm(name, email, error, password_hash)


@router.post("/register", response_class=HTMLResponse, dependencies=[CsrfDep])
def register(
    form: Annotated[RegistrationForm, Depends(hashed_registration_form)],  # before the session
    request: Request,
    shopper: ShopperDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    login_hooks: LoginHooksDep,
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    error = form.error
    status_code = 422
    if form.password_hash is not None:
        try:
            account = accounts.register(
                session,
                email=form.email,
                password_hash=form.password_hash,
                name=form.name,
                now=now,
            )
        except ProblemError as exc:
            error = (
                "An account with this email already exists; log in instead."
                if exc.type_slug == "email-taken"
                else exc.detail
            )
            status_code = exc.status
    if error is not None:
        return _account_form(
            request,
            "register.html",
            shopper,
            session,
            settings,
            next,
            status_code=status_code,
            error=error,
            name=form.name,
            email=form.email,
        )
    session.flush()
    welcome = f"Welcome to {settings.store_name}, {account.name}. You are logged in."
    return _log_in(
        request, session, shopper, account, settings, now, login_hooks, next=next, welcome=welcome
    )


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
    login_hooks: tuple[LoginHook, ...],
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
        client=login_client(request),
        previous_session_key=None if shopper.account else shopper.session_key,
        login_hooks=login_hooks,
    )
    if shopper.account is not None:
        accounts.end_session(session, shopper.session_token)
    set_session_cookie(request, issued.token)
    return redirect(settings, safe_next(next), Flash("success", welcome))
