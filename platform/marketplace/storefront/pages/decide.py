"""The Help Me Decide page: the picks of one category for this shopper."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from marketplace.accounts.deps import ShopperDep
from marketplace.core.deps import NowDep, SessionDep, SettingsDep
from marketplace.decide.deps import DecideConfigDep
from marketplace.storefront import views
from marketplace.storefront.rendering import CsrfDep, StorefrontRoute, render

router = APIRouter(route_class=StorefrontRoute, include_in_schema=False)


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
