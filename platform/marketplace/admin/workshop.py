"""Workshop mode: team accounts, the challenge product, and the scoreboard.

The challenge: get an outside agent to order the challenge product without being refused. Each
team logs in with its own account, so the gate's log and the orders say which team did what.

Fairness (docs/workshop.md): only the workshop creates accounts at the teams' addresses, and each
start revokes the teams' earlier sessions, so nobody keeps a way in as a team; each team's share of
the challenge product is held for it; the ranking uses only what a team did authenticated as
itself (its order), never refusals that anyone holding its token could add; strikes suspend team
accounts only when the workshop asks for it, and an organiser can reinstate a team.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, func, select
from sqlalchemy.orm import Session

from marketplace.accounts import service as accounts
from marketplace.accounts.models import Account
from marketplace.admin.models import WorkshopChallenge
from marketplace.admin.reinstate import reinstate
from marketplace.catalog.models import Product
from marketplace.core.db import Database
from marketplace.core.errors import Conflict, NotFound, Unprocessable
from marketplace.gate.models import GateDecision
from marketplace.orders.models import Order, OrderItem, StockHold

TEAM_DOMAIN = accounts.TEAM_DOMAIN
MAX_TEAMS = 200
REFUSING_ACTIONS = ("block", "challenge", "throttle", "pay")
# Units of the challenge product held for each team: one wins, the rest allow for a retry.
UNITS_PER_TEAM = 3
EVICTED_DOMAIN = "evicted.invalid"


@dataclass(frozen=True)
class TeamCredentials:
    team: str
    email: str
    password: str
    access_token: str


def team_name(number: int) -> str:
    return f"team-{number:02d}"


def _challenge_product(session: Session, product_id: int | None, teams: int) -> Product:
    if product_id is not None:
        product = session.get(Product, product_id)
        if product is None:
            raise NotFound(f"There is no product {product_id}; pick one from GET /api/v1/products.")
    else:
        # A well-known product everyone can find: the most reviewed one in stock.
        product = session.scalars(
            select(Product)
            .where(Product.stock > 0)
            .order_by(Product.review_count.desc(), Product.id)
            .limit(1)
        ).first()
        if product is None:
            raise Unprocessable("The catalog has no product in stock; seed the store first.")
    # Enough stock that every team can win, so the race is against the gate, not each other.
    product.stock = max(product.stock, teams * UNITS_PER_TEAM)
    return product


def _squatters(session: Session, teams: int) -> list[Account]:
    """Accounts at a team's address that no workshop created (registered before it was reserved)."""
    emails = {f"{team_name(n)}@{TEAM_DOMAIN}": team_name(n) for n in range(1, teams + 1)}
    found = session.scalars(select(Account).where(Account.email.in_(emails))).all()
    return [account for account in found if account.team != emails[account.email]]


def _evict(session: Session, account: Account) -> None:
    """Move a squatting account off the team's address and log it out everywhere."""
    account.email = f"evicted-{account.id}@{EVICTED_DOMAIN}"
    accounts.end_all_sessions(session, account.id)
    session.flush()


def start_workshop(
    session: Session,
    *,
    teams: int,
    product_id: int | None,
    now: datetime,
    session_max_age_s: int,
    suspend_accounts: bool = False,
    evict_squatters: bool = False,
) -> tuple[WorkshopChallenge, Product, list[TeamCredentials]]:
    """Create (or re-key) `teams` team accounts and start a challenge; returns the handout.

    Re-keying gives a team a new password and token, ends every earlier session of the team,
    forgets its strikes and reinstates it. An account at a team's address that no workshop created
    is refused (409) unless `evict_squatters` moves it off the address first.
    """
    if not 1 <= teams <= MAX_TEAMS:
        raise Unprocessable(f"Field 'teams' must be between 1 and {MAX_TEAMS}.")
    squatters = _squatters(session, teams)
    if squatters and not evict_squatters:
        named = ", ".join(f"{a.email} (account {a.id})" for a in squatters[:5])
        more = f" and {len(squatters) - 5} more" if len(squatters) > 5 else ""
        raise Conflict(
            f"{named}{more} already exist as shopper accounts that no workshop created, so they "
            "are not made teams: whoever registered them could log in as the team. Start the "
            'workshop with `sandbox workshop --evict-squatters` (API: "evict_squatters": true) '
            f"to move them to @{EVICTED_DOMAIN} and log them out everywhere; new team accounts "
            "then take the addresses.",
            title="Team address taken",
            type_slug="team-address-taken",
            accounts=[a.id for a in squatters],
        )
    for squatter in squatters:
        _evict(session, squatter)
    product = _challenge_product(session, product_id, teams)
    challenge = WorkshopChallenge(
        product_id=product.id, teams=teams, started_at=now, suspend_accounts=suspend_accounts
    )
    session.add(challenge)
    # Holds from an earlier workshop (another product, more teams) go; this one's are set below.
    team_ids = select(Account.id).where(Account.team.is_not(None))
    session.execute(delete(StockHold).where(StockHold.account_id.in_(team_ids)))
    handout = []
    for number in range(1, teams + 1):
        name = team_name(number)
        email = f"{name}@{TEAM_DOMAIN}"
        password = secrets.token_urlsafe(9)
        account = session.scalar(select(Account).where(Account.email == email))
        if account is None:
            account = accounts.register(
                session,
                email=email,
                password_hash=accounts.hash_password(password),
                name=name.replace("-", " ").title(),
                now=now,
                team_address_ok=True,
            )
        else:
            account.password_hash = accounts.hash_password(password)
            accounts.end_all_sessions(session, account.id)
            reinstate(session, account, now=now, reason="re-keyed by a new workshop start")
        account.team = name
        session.flush()
        session.add(StockHold(product_id=product.id, account_id=account.id, units=UNITS_PER_TEAM))
        # Issued, not a login: a request with this token proves only that its sender holds it.
        issued = accounts.start_session(
            session, account, now=now, max_age_s=session_max_age_s, kind="issued"
        )
        handout.append(TeamCredentials(name, email, password, issued.token))
    session.flush()
    return challenge, product, handout


def current_challenge(session: Session) -> WorkshopChallenge:
    challenge = session.scalars(
        select(WorkshopChallenge).order_by(WorkshopChallenge.id.desc()).limit(1)
    ).first()
    if challenge is None:
        raise NotFound(
            "No workshop is running; start one with `sandbox workshop --teams N`.",
            type_slug="no-workshop",
        )
    return challenge


def reinstate_team(session: Session, team: str, *, now: datetime) -> dict[str, Any]:
    """Set a team's account back to `active` and forget its strikes (an organiser's decision)."""
    account = session.scalar(select(Account).where(Account.team == team))
    if account is None:
        raise NotFound(
            f"There is no team {team!r}; the scoreboard lists the teams (e.g. team-03).",
            type_slug="unknown-team",
        )
    done = reinstate(session, account, now=now, reason="reinstated by the organiser")
    return {"team": team, **done}


def flagged_teams(session: Session) -> list[dict[str, Any]]:
    """Team accounts that are warned or suspended, for the dashboard's reinstate buttons."""
    rows = session.execute(
        select(Account.team, Account.status, Account.status_reason)
        .where(Account.team.is_not(None), Account.status != "active")
        .order_by(Account.team)
    ).all()
    return [{"team": team, "status": status, "reason": reason} for team, status, reason in rows]


def suspension_guard(database: Database) -> Callable[[int], bool]:
    """account id → whether strikes may suspend it: always for shoppers; for a team account only
    when the running workshop was started with suspensions on."""

    def may_suspend(account_id: int) -> bool:
        with database.session() as session:
            team = session.scalar(select(Account.team).where(Account.id == account_id))
            if team is None:
                return True
            allowed = session.scalar(
                select(WorkshopChallenge.suspend_accounts)
                .order_by(WorkshopChallenge.id.desc())
                .limit(1)
            )
            return bool(allowed)

    return may_suspend


def scoreboard(session: Session, challenge: WorkshopChallenge) -> list[dict[str, Any]]:
    """Teams ranked: those who ordered the product, by how quickly; then everyone else, tied.

    Only what a team did authenticated as itself counts: its order, and (shown, not ranked) the
    requests the store authenticated as the team. `refused` counts the gate's refusals of
    requests that carried the team's credentials; anyone holding a team's token could add to
    them, so they are shown for discussion and never move a rank.
    """
    team_accounts = session.execute(
        select(Account.id, Account.team, Account.status).where(Account.team.is_not(None))
    ).all()
    wins = {
        account_id: (created_at, channel)
        for account_id, created_at, channel in session.execute(
            select(Order.account_id, func.min(Order.created_at), func.min(Order.channel))
            .join(OrderItem, OrderItem.order_id == Order.id)
            .where(OrderItem.product_id == challenge.product_id)
            .where(Order.created_at >= challenge.started_at)
            .group_by(Order.account_id)
        ).all()
    }
    # Authenticated requests: the store resolved the request's credential to the team's account
    # (the gate's log then carries the team); a refused request never reached that point.
    authenticated = {
        team: int(total)
        for team, total in session.execute(
            select(GateDecision.team, func.count(GateDecision.id))
            .where(GateDecision.at >= challenge.started_at)
            .where(GateDecision.team.is_not(None))
            .group_by(GateDecision.team)
        ).all()
    }
    refused = {
        account_id: int(count or 0)
        for account_id, count in session.execute(
            select(
                GateDecision.account_id,
                func.sum(
                    case(
                        (GateDecision.action.in_(REFUSING_ACTIONS) & GateDecision.enforced, 1),
                        else_=0,
                    )
                ),
            )
            .where(GateDecision.at >= challenge.started_at)
            .where(GateDecision.account_id.is_not(None))
            .group_by(GateDecision.account_id)
        ).all()
    }
    rows = []
    for account_id, team, status in team_accounts:
        ordered_at, channel = wins.get(account_id, (None, None))
        rows.append(
            {
                "team": team,
                "status": status,
                "ordered": ordered_at is not None,
                "ordered_at": ordered_at.isoformat() if ordered_at else None,
                "seconds": round((ordered_at - challenge.started_at).total_seconds())
                if ordered_at
                else None,
                "channel": channel,
                "requests": authenticated.get(str(team), 0),
                "refused": refused.get(account_id, 0),
            }
        )
    # ISO timestamps in UTC sort as the moments they name.
    rows.sort(key=lambda r: (not r["ordered"], r["ordered_at"] or "", str(r["team"])))
    for index, row in enumerate(rows):
        previous = rows[index - 1] if index else None
        if previous is not None and previous["ordered_at"] == row["ordered_at"]:
            row["rank"] = previous["rank"]  # a tie: both not ordered, or ordered at one moment
        else:
            row["rank"] = index + 1
    return rows
