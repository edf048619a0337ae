"""The live dashboard at /dashboard: readable on a projector, updated every two seconds."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from marketplace.accounts.deps import LoginThrottleDep, Shopper, ShopperDep, resolve_shopper
from marketplace.accounts.throttle import LoginThrottled, client_of
from marketplace.admin import service, workshop
from marketplace.admin.timeline_chart import CHART_CSP, timeline_svg
from marketplace.catalog.models import Product
from marketplace.core.admin import (
    ADMIN_COOKIE,
    ADMIN_COOKIE_MAX_AGE_S,
    admin_cookie_value,
    admin_csrf_token,
    admin_token_valid,
    has_admin_cookie,
    require_admin_form,
)
from marketplace.core.deps import NowDep, SessionDep, SettingsDep
from marketplace.core.errors import Forbidden, ProblemError, Unprocessable
from marketplace.core.settings import Settings
from marketplace.gate.deps import GateRuntimeDep
from marketplace.gate.policy.model import PRESET_NAMES, PolicyError
from marketplace.storefront.rendering import CsrfDep, Flash, redirect, render

router = APIRouter(include_in_schema=False)

WINDOW_S = 120


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    runtime: GateRuntimeDep,
) -> Response:
    if not has_admin_cookie(request):
        # The token form needs the shopper session for its CSRF token; nothing else does.
        shopper = resolve_shopper(request, session, now)
        return render(
            request, "dashboard_login.html", settings=settings, shopper=shopper, session=None
        )
    if runtime.decision_log is not None:
        # Before this request's session touches the database: the log writer needs the lock.
        runtime.decision_log.flush()
    stats = service.platform_stats(
        session,
        since=now - timedelta(seconds=WINDOW_S),
        now=now,
        reasons=runtime.rule_reasons(),
    )
    return render(
        request,
        "dashboard.html",
        settings=settings,
        shopper=None,
        session=None,
        stats=stats,
        window_s=WINDOW_S,
        policy_name=runtime.compiled.name,
        presets=PRESET_NAMES,
        admin_csrf=admin_csrf_token(request),
        flagged_teams=workshop.flagged_teams(session),
    )


@router.get("/dashboard/timeline.svg")
def dashboard_timeline(
    request: Request, session: SessionDep, now: NowDep, runtime: GateRuntimeDep
) -> Response:
    """The dashboard's chart: decisions per visitor class over the window, stacked (SVG)."""
    if not has_admin_cookie(request):
        raise Forbidden("The dashboard's chart needs the admin token: open /dashboard first.")
    if runtime.decision_log is not None:
        runtime.decision_log.flush()
    stats = service.traffic_stats(
        session, since=now - timedelta(seconds=WINDOW_S), now=now, reasons={}
    )
    return Response(
        timeline_svg(stats["timeline"], WINDOW_S),
        media_type="image/svg+xml",
        headers={"Cache-Control": "no-store", "Content-Security-Policy": CHART_CSP},
    )


@router.post("/dashboard/login", dependencies=[CsrfDep])
def dashboard_login(
    request: Request,
    settings: SettingsDep,
    shopper: ShopperDep,
    now: NowDep,
    throttle: LoginThrottleDep,
    token: Annotated[str, Form(max_length=512)] = "",
) -> Response:
    client = client_of(request)
    try:
        # Wrong tokens are limited per client like wrong passwords, so the token cannot be
        # guessed at full speed; the refusal is shown on the form rather than an error page.
        throttle.check_admin_token(client, now)
    except LoginThrottled as exc:
        return _token_form(request, settings, shopper, exc.status, exc.detail, exc.headers)
    if not token or not admin_token_valid(request, token):
        throttle.failed_admin_token(client)
        error = "That is not the admin token this store runs with (SANDBOX_ADMIN_TOKEN)."
        return _token_form(request, settings, shopper, 403, error)
    response = RedirectResponse("/dashboard", status_code=303)
    response.set_cookie(
        ADMIN_COOKIE,
        admin_cookie_value(request),
        max_age=ADMIN_COOKIE_MAX_AGE_S,
        httponly=True,
        samesite="strict",
        secure=settings.secure_cookies,
    )
    return response


def _token_form(
    request: Request,
    settings: Settings,
    shopper: Shopper,
    status_code: int,
    error: str,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The admin-token form again, saying why the token was not accepted."""
    response = render(
        request,
        "dashboard_login.html",
        settings=settings,
        shopper=shopper,
        session=None,
        status_code=status_code,
        error=error,
    )
    response.headers.update(headers or {})
    return response


@router.post("/dashboard/policy", dependencies=[Depends(require_admin_form)])
def dashboard_policy(
    runtime: GateRuntimeDep, settings: SettingsDep, preset: Annotated[str, Form(max_length=64)] = ""
) -> Response:
    try:
        policy = runtime.switch(preset=preset)
    except (PolicyError, ValueError) as exc:
        raise Unprocessable(
            f"Could not switch the policy to {preset!r}: {exc}", type_slug="invalid-policy"
        ) from exc
    mode = "observes (refuses nothing)" if policy.mode == "observe" else "enforces"
    done = Flash(
        "success",
        f"Policy switched to {policy.name} (version {runtime.compiled.version}): the gate "
        f"{mode} from the next request on.",
    )
    return redirect(settings, "/dashboard", done)


@router.post("/dashboard/workshop/reinstate", dependencies=[Depends(require_admin_form)])
def dashboard_reinstate(
    session: SessionDep, now: NowDep, team: Annotated[str, Form(max_length=64)] = ""
) -> Response:
    workshop.reinstate_team(session, team, now=now)
    return RedirectResponse("/dashboard", status_code=303)


@router.get("/workshop", response_class=HTMLResponse)
def workshop_page(
    request: Request, session: SessionDep, settings: SettingsDep, shopper: ShopperDep
) -> Response:
    """The public scoreboard of the running workshop (no secrets on it), refreshed every 5 s."""
    try:
        challenge = workshop.current_challenge(session)
    except ProblemError:
        return render(
            request, "workshop.html", settings=settings, shopper=shopper, session=None, rows=None
        )
    product = session.get(Product, challenge.product_id)
    return render(
        request,
        "workshop.html",
        settings=settings,
        shopper=shopper,
        session=None,
        rows=workshop.scoreboard(session, challenge),
        challenge=challenge,
        product=product,
    )
