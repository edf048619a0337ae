"""Admin endpoints: the platform's figures for the dashboard, the harness and workshops."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from marketplace.admin import reinstate, service, workshop
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
    suspend_accounts: bool = Field(
        default=False,
        description="Whether strikes may suspend team accounts (ordering refused) during this "
        "workshop. Off by default: teams are warned, never locked out. Even when on, only "
        "requests that prove they are the team's own count (docs/workshop.md).",
    )
    evict_squatters: bool = Field(
        default=False,
        description="Move shopper accounts that sit on a team's address (registered before the "
        "address space was reserved) to another address and log them out, instead of refusing "
        "to start (409).",
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
    description="Creates `team-01` … `team-NN` (or gives existing ones new passwords and tokens, "
    "ends every earlier session of theirs, forgets their strikes and reinstates them) and starts "
    "a challenge: place an order for the product through an outside agent without being "
    "refused. Each team's share of the product is held for it. The response is the handout; it "
    "is shown once. Needs the admin token.",
    responses={
        409: {
            "description": "A shopper account that no workshop created sits on a team's "
            "address; see `evict_squatters`."
        }
    },
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
        suspend_accounts=body.suspend_accounts,
        evict_squatters=body.evict_squatters,
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
    description="Teams ranked: those whose agent ordered the challenge product, by how quickly; "
    "the others share the next rank. `requests` counts the requests the store authenticated as "
    "the team; `refused` the gate's refusals of requests carrying the team's credentials (shown, "
    "never ranked: anyone holding a team's token could add to it); `status` is the team "
    "account's (`active`, `warned`, `suspended`). Needs the admin token (the HTML page at "
    "/workshop is public).",
)
def workshop_scoreboard(session: SessionDep, _admin: AdminDep) -> dict[str, Any]:
    challenge = workshop.current_challenge(session)
    return {
        "challenge_id": challenge.id,
        "product_id": challenge.product_id,
        "started_at": challenge.started_at.isoformat(),
        "teams": workshop.scoreboard(session, challenge),
    }


class ReinstatedOut(BaseModel):
    team: str
    account_id: int
    previous_status: str
    status: str
    strikes_cleared: int


@router.post(
    "/workshop/teams/{team}/reinstate",
    response_model=ReinstatedOut,
    summary="Reinstate a workshop team",
    description="Sets the team's account back to `active` (ordering allowed again) and forgets "
    "its strikes; the step is recorded in the account's escalation history. Needs the admin "
    "token.",
    responses={404: {"description": "There is no such team."}},
)
def reinstate_team(
    team: Annotated[str, Path(max_length=64, pattern=r"^[a-z0-9-]+$", description="e.g. team-03")],
    session: SessionDep,
    now: NowDep,
    _admin: AdminDep,
) -> ReinstatedOut:
    return ReinstatedOut(**workshop.reinstate_team(session, team, now=now))


class AccountReinstatedOut(BaseModel):
    email: str
    account_id: int
    previous_status: str = Field(description="`active`, `warned` or `suspended` before.")
    status: str = Field(description="Always `active`.")
    strikes_cleared: int = Field(description="The strikes forgotten.")


@router.post(
    "/accounts/{email}/reinstate",
    response_model=AccountReinstatedOut,
    summary="Reinstate a shopper's account",
    description="Lifts a warning or a suspension from the account registered at `email` "
    "(ordering allowed again) and forgets its strikes; the step is recorded in the account's "
    "escalation history. The CLI: `sandbox accounts reinstate EMAIL`. Needs the admin token.",
    responses={404: {"description": "No account is registered at that address."}},
)
def reinstate_account(
    email: Annotated[str, Path(max_length=254, description="e.g. shopper@example.com")],
    session: SessionDep,
    now: NowDep,
    _admin: AdminDep,
) -> AccountReinstatedOut:
    return AccountReinstatedOut(**reinstate.reinstate_account(session, email, now=now))
