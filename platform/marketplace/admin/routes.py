"""Admin endpoints: the platform's figures for the dashboard, the harness and workshops."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from marketplace.admin import service, workshop
from marketplace.core.admin import AdminDep
from marketplace.core.deps import NowDep, SessionDep, SettingsDep
from marketplace.core.errors import Unprocessable
from marketplace.gate.deps import GateRuntimeDep

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


@router.get(
    "/stats",
    summary="Traffic, decisions, orders by channel, ads and revenue",
    description="Aggregates the decision log and the orders since `since` (ISO 8601) or over "
    "the last `window_s` seconds (default: everything). `team` narrows the traffic figures to "
    "one workshop team. Needs the admin token.",
)
def stats(
    session: SessionDep,
    runtime: GateRuntimeDep,
    now: NowDep,
    _admin: AdminDep,
    since: Annotated[datetime | None, Query(description="Start of the window, ISO 8601.")] = None,
    window_s: Annotated[
        int | None, Query(ge=1, le=30 * 86400, description="Or: the last N seconds.")
    ] = None,
    team: Annotated[str | None, Query(max_length=64)] = None,
    by_account: Annotated[
        bool,
        Query(
            description="Add `accounts`: per shopper email, the orders, sales, margin, ad "
            "impressions, ad clicks, ad revenue and history events of the window (at most "
            f"{service.MAX_ACCOUNTS:,} accounts, the newest)."
        ),
    ] = False,
) -> dict[str, Any]:
    if since is not None and window_s is not None:
        raise Unprocessable("Give either 'since' or 'window_s', not both.")
    if since is not None and since.tzinfo is None:
        raise Unprocessable("'since' needs a timezone, e.g. 2026-11-30T12:00:00Z.")
    start = since or (now - timedelta(seconds=window_s) if window_s else None)
    if runtime.decision_log is not None:
        runtime.decision_log.flush()  # the figures include what is still queued
    return service.platform_stats(
        session,
        since=start,
        now=now,
        reasons=runtime.rule_reasons(),
        team=team,
        by_account=by_account,
    )


class WorkshopStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    teams: int = Field(ge=1, le=workshop.MAX_TEAMS, description="How many team accounts.")
    product_id: int | None = Field(
        default=None,
        ge=1,
        le=2**63 - 1,
        description="The challenge product; default: the most reviewed.",
    )


class TeamOut(BaseModel):
    team: str
    email: str
    password: str
    access_token: str


class WorkshopOut(BaseModel):
    challenge_id: int
    product: dict[str, Any]
    started_at: datetime
    teams: list[TeamOut]


@router.post(
    "/workshop",
    status_code=201,
    response_model=WorkshopOut,
    summary="Start a workshop: team accounts, their tokens, and the challenge product",
    description="Creates `team-01` … `team-NN` (or gives existing ones new passwords and tokens) "
    "and starts a challenge: place an order for the product through an outside agent without "
    "being refused. The response is the handout; it is shown once. Needs the admin token.",
)
def start_workshop(
    body: WorkshopStart,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    _admin: AdminDep,
) -> WorkshopOut:
    challenge, product, teams = workshop.start_workshop(
        session,
        teams=body.teams,
        product_id=body.product_id,
        now=now,
        session_max_age_s=settings.session_max_age_s,
    )
    return WorkshopOut(
        challenge_id=challenge.id,
        product={"id": product.id, "title": product.title, "price": product.price},
        started_at=challenge.started_at,
        teams=[TeamOut(**vars(t)) for t in teams],
    )


@router.get(
    "/workshop/scoreboard",
    summary="The workshop scoreboard",
    description="Teams ranked: those whose agent ordered the challenge product first, then by "
    "fewest refused requests, then by time. Needs the admin token (the HTML page at /workshop "
    "is public).",
)
def workshop_scoreboard(session: SessionDep, _admin: AdminDep) -> dict[str, Any]:
    challenge = workshop.current_challenge(session)
    return {
        "challenge_id": challenge.id,
        "product_id": challenge.product_id,
        "started_at": challenge.started_at.isoformat(),
        "teams": workshop.scoreboard(session, challenge),
    }
