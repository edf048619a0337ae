"""Workshop mode: team accounts, the challenge product, and the scoreboard.

The challenge: get an outside agent to place an order for the challenge product without being
refused. Each team logs in with its own account, so the gate's log and the orders say which team
did what; the scoreboard ranks teams that ordered first, then by how seldom they were refused.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from marketplace.accounts import service as accounts
from marketplace.accounts.models import Account
from marketplace.admin.models import WorkshopChallenge
from marketplace.catalog.models import Product
from marketplace.core.errors import NotFound, Unprocessable
from marketplace.gate.models import GateDecision
from marketplace.orders.models import Order, OrderItem

TEAM_DOMAIN = "teams.nile.example"
MAX_TEAMS = 200
REFUSING_ACTIONS = ("block", "challenge", "throttle", "pay")


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
    product.stock = max(product.stock, teams * 3)
    return product


def start_workshop(
    session: Session,
    *,
    teams: int,
    product_id: int | None,
    now: datetime,
    session_max_age_s: int,
) -> tuple[WorkshopChallenge, Product, list[TeamCredentials]]:
    """Create (or re-key) `teams` team accounts and start a challenge; returns the handout."""
    if not 1 <= teams <= MAX_TEAMS:
        raise Unprocessable(f"Field 'teams' must be between 1 and {MAX_TEAMS}.")
    product = _challenge_product(session, product_id, teams)
    challenge = WorkshopChallenge(product_id=product.id, teams=teams, started_at=now)
    session.add(challenge)
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
                password=password,
                name=name.replace("-", " ").title(),
                now=now,
            )
        else:
            account.password_hash = accounts.hash_password(password)
            account.status, account.status_reason = "active", None
        account.team = name
        session.flush()
        issued = accounts.start_session(
            session, account, now=now, max_age_s=session_max_age_s, kind="api"
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


def scoreboard(session: Session, challenge: WorkshopChallenge) -> list[dict[str, Any]]:
    """Teams ranked: those who ordered the product first, then by fewest refusals, then time."""
    team_accounts = session.execute(
        select(Account.id, Account.team).where(Account.team.is_not(None))
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
    decisions = {
        account_id: (int(total), int(refused or 0))
        for account_id, total, refused in session.execute(
            select(
                GateDecision.account_id,
                func.count(GateDecision.id),
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
    for account_id, team in team_accounts:
        ordered_at, channel = wins.get(account_id, (None, None))
        requests, refused = decisions.get(account_id, (0, 0))
        rows.append(
            {
                "team": team,
                "ordered": ordered_at is not None,
                "ordered_at": ordered_at.isoformat() if ordered_at else None,
                "seconds": round((ordered_at - challenge.started_at).total_seconds())
                if ordered_at
                else None,
                "channel": channel,
                "requests": requests,
                "refused": refused,
            }
        )
    rows.sort(key=lambda r: (not r["ordered"], r["refused"], r["seconds"] or 0, str(r["team"])))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows
