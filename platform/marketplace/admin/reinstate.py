"""Reinstating an account: a person lifts a warning or a suspension and the strikes are forgotten.

One piece of code for every way in: the admin API (`POST /api/v1/admin/accounts/{email}/reinstate`,
`sandbox accounts reinstate EMAIL`) and a workshop organiser's team reinstatement.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.accounts import service as accounts
from marketplace.accounts.models import Account
from marketplace.core.errors import NotFound
from marketplace.gate.identity.escalation import reset_strikes


def reinstate(session: Session, account: Account, *, now: datetime, reason: str) -> dict[str, Any]:
    """Set `account` back to `active`, forget its strikes and record the step in its escalation
    history; returns what changed."""
    previous = account.status
    account.status, account.status_reason = "active", None
    strikes = reset_strikes(session, account.id, reason=reason, now=now)
    session.flush()
    return {
        "account_id": account.id,
        "previous_status": previous,
        "status": account.status,
        "strikes_cleared": strikes,
    }


def reinstate_account(session: Session, email: str, *, now: datetime) -> dict[str, Any]:
    """Reinstate the account registered at `email` (an administrator's decision)."""
    address = accounts.normalise_email(email)
    account = session.scalar(select(Account).where(Account.email == address))
    if account is None:
        raise NotFound(
            f"There is no account registered at {address!r}; check the address the shopper "
            "logged in with.",
            type_slug="unknown-account",
        )
    return {"email": account.email, **reinstate(session, account, now=now, reason="reinstated")}
