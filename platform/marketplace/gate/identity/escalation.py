"""Terms-of-service escalation: accounts whose traffic is flagged as agent-driven are warned, then
their ordering is suspended.

A *strike* is one request by a logged-in account that the gate classed as agent-driven (a
suspected agent by behaviour, or an undeclared automation posing as a browser) on an account, cart,
checkout or assistant route: acting on the account is what the terms forbid, browsing is not. At
`warn_after` strikes the account is set to `warned`, at `suspend_after` to `suspended`, each step
with the reason the shopper is shown and a row in `gate_escalations`. Statuses only move up here;
reinstating an account is a person's decision (`reset_strikes`).

A strike counts against an account only when the request proved it was the account holder's: its
credential is a session started by logging in with the password, sent from the client that logged
in. A token merely held (printed on a workshop handout, copied from another team's screen) proves
nothing about who sent the request; such a strike stays with the request's own identity (its
session, client and key, all in the decision log) and never warns or suspends the account. A
workshop may also forbid suspensions of its team accounts altogether (`may_suspend`).

The gate may not import the accounts domain, so the app injects callables: one that resolves the
account of a request's session cookie or bearer token (for the decision log), one that resolves
the account a request proves it is the holder of, one that sets an account's status, and one that
says whether an account may be suspended. The work runs on the shared state's background tick,
never on the request's own path.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from marketplace.core.db import Database
from marketplace.core.security import client_fingerprint
from marketplace.gate.facts import RequestFacts
from marketplace.gate.identity.models import GateAccountStrike, GateEscalation

log = logging.getLogger(__name__)

# (session cookie value, bearer token) → account id, or None for an anonymous visitor.
AccountResolver = Callable[[str | None, str | None], int | None]
# (session cookie value, bearer token, client fingerprint) → the account the request proves it is
# the holder of, or None.
OwnerResolver = Callable[[str | None, str | None, str], int | None]
# (account id, "warned" | "suspended", reason shown to the shopper) → None.
StatusSetter = Callable[[int, str, str], None]
# account id → whether strikes may suspend it (a workshop can forbid it for its teams).
SuspensionGuard = Callable[[int], bool]

ESCALATED_ROUTES = frozenset({"account", "cart", "checkout", "assistant"})
FLAGGED_CLASSES = frozenset({"suspected-agent", "automation"})
_RANK = {"active": 0, "warned": 1, "suspended": 2}
MAX_QUEUE = 10_000


class Thresholds(Protocol):
    """The policy's `escalation` settings."""

    @property
    def warn_after(self) -> int: ...

    @property
    def suspend_after(self) -> int: ...


@dataclass(frozen=True)
class Strike:
    session_cookie: str | None
    bearer: str | None
    session_id: str | None
    client: str
    reason: str
    warn_after: int
    suspend_after: int
    at: datetime


@dataclass(frozen=True)
class EscalationStep:
    account_id: int
    status: str
    reason: str
    strikes: int


def bearer_token(facts: RequestFacts) -> str | None:
    auth = facts.header("authorization") or ""
    scheme, _, token = auth.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def session_cookie(facts: RequestFacts) -> str | None:
    """The raw session cookie, as the gate read it (the account resolver checks its signature)."""
    return facts.session_id


def warning_reason(strikes: int, reason: str) -> str:
    return (
        f"Traffic on this account looked automated ({reason}). The store's terms allow ordering "
        "by the account holder or the store's own assistant only; further automated use will "
        "suspend ordering."
    )[:300]


def suspension_reason(strikes: int, reason: str) -> str:
    return (
        f"{strikes} requests on this account were made by an automated agent posing as a browser "
        f"(latest: {reason})."
    )[:300]


class Escalator:
    """Queues strikes from the gate and applies them on the background tick."""

    def __init__(
        self,
        database: Database,
        *,
        resolve_account: AccountResolver,
        resolve_owner: OwnerResolver,
        set_account_status: StatusSetter,
        may_suspend: SuspensionGuard | None = None,
    ) -> None:
        self.database = database
        self.resolve_account = resolve_account
        self.resolve_owner = resolve_owner
        self.set_account_status = set_account_status
        self.may_suspend = may_suspend
        self._queue: list[Strike] = []
        self._lock = threading.Lock()
        self._process_lock = threading.Lock()

    def should_strike(self, facts: RequestFacts, visitor_class: str) -> bool:
        return visitor_class in FLAGGED_CLASSES and facts.route_class in ESCALATED_ROUTES

    def record(
        self,
        facts: RequestFacts,
        *,
        visitor_class: str,
        reason: str,
        thresholds: Thresholds,
        now: datetime,
    ) -> bool:
        """Queue a strike when this request counts as one; True when it was queued."""
        if not self.should_strike(facts, visitor_class):
            return False
        cookie, bearer = session_cookie(facts), bearer_token(facts)
        if cookie is None and bearer is None:
            return False  # anonymous: there is no account to warn
        strike = Strike(
            session_cookie=cookie,
            bearer=bearer,
            session_id=facts.session_id[:128] if facts.session_id else None,
            client=client_fingerprint(facts.client_ip, facts.user_agent),
            reason=reason[:200] or "behaviour scored as automated",
            warn_after=thresholds.warn_after,
            suspend_after=thresholds.suspend_after,
            at=now,
        )
        with self._lock:
            if len(self._queue) < MAX_QUEUE:
                self._queue.append(strike)
        return True

    def process(self) -> list[EscalationStep]:
        """Apply the queued strikes; returns the escalation steps taken."""
        with self._process_lock:
            with self._lock:
                batch, self._queue = self._queue, []
            steps: list[EscalationStep] = []
            for strike in batch:
                try:
                    step = self._apply(strike)
                except Exception:
                    log.exception("could not apply an escalation strike")
                    continue
                if step is not None:
                    steps.append(step)
            return steps

    def _apply(self, strike: Strike) -> EscalationStep | None:
        # Only a request that proved it was the holder's counts against the account; the rest
        # stay with their own session, client and key in the decision log.
        account_id = self.resolve_owner(strike.session_cookie, strike.bearer, strike.client)
        if account_id is None:
            return None
        # Asked before this session opens: on SQLite a second writer would wait for this one.
        may_suspend = self._may_suspend(account_id)
        with self.database.session() as session:
            row = session.get(GateAccountStrike, account_id)
            if row is None:
                row = GateAccountStrike(
                    account_id=account_id, strikes=0, status="active", updated_at=strike.at
                )
                session.add(row)
            row.strikes += 1
            row.updated_at = strike.at
            target = row.status
            if row.strikes >= strike.suspend_after and may_suspend:
                target = "suspended"
            elif row.strikes >= strike.warn_after:
                target = "warned"
            if _RANK.get(target, 0) <= _RANK.get(row.status, 0):
                return None
            reason = (
                suspension_reason(row.strikes, strike.reason)
                if target == "suspended"
                else warning_reason(row.strikes, strike.reason)
            )
            row.status = target
            session.add(
                GateEscalation(
                    account_id=account_id,
                    status=target,
                    reason=reason,
                    strikes=row.strikes,
                    session_id=strike.session_id,
                    created_at=strike.at,
                )
            )
            strikes = row.strikes
        # After the gate's own record is committed: the account row belongs to another domain.
        self.set_account_status(account_id, target, reason)
        log.info("account %s %s after %s strikes", account_id, target, strikes)
        return EscalationStep(account_id, target, reason, strikes)

    def _may_suspend(self, account_id: int) -> bool:
        if self.may_suspend is None:
            return True
        try:
            return self.may_suspend(account_id)
        except Exception:
            log.exception("could not tell whether account %s may be suspended", account_id)
            return False

    def history(self, account_id: int) -> list[dict[str, Any]]:
        """The escalation steps taken against an account, oldest first."""
        with self.database.session() as session:
            rows = session.scalars(
                select(GateEscalation)
                .where(GateEscalation.account_id == account_id)
                .order_by(GateEscalation.created_at, GateEscalation.id)
            ).all()
            return [
                {
                    "status": r.status,
                    "reason": r.reason,
                    "strikes": r.strikes,
                    "created_at": r.created_at.astimezone(UTC).isoformat(),
                }
                for r in rows
            ]


def reset_strikes(session: Session, account_id: int, *, reason: str, now: datetime) -> int:
    """Forget an account's strikes and record that a person reinstated it; returns the strikes
    forgotten. The caller sets the account itself back to `active` in the same transaction."""
    row = session.get(GateAccountStrike, account_id)
    strikes = row.strikes if row is not None else 0
    if row is not None and row.status != "active":
        session.add(
            GateEscalation(
                account_id=account_id,
                status="reinstated",
                reason=reason[:300],
                strikes=row.strikes,
                session_id=None,
                created_at=now,
            )
        )
    session.execute(delete(GateAccountStrike).where(GateAccountStrike.account_id == account_id))
    return strikes
