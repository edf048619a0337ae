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
from collections.abc import Callable, Mapping
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
# How a shopper is told who may order (the classes a policy admits on checkout), in this order.
ORDERING_LABELS = {
    "human": "the account holder",
    "first-party-agent": "the store's assistant",
    "verified-agent": "signed agents",
    "declared-agent": "declared agents",
    "declared-crawler": "declared crawlers",
    "search-engine": "search engines",
    "automation": "unidentified tools",
    "suspected-agent": "suspected agents",
}
MAX_REASON = 300  # accounts.status_reason and gate_escalations.reason
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
    visitor_class: str
    reason: str  # the signal that made this request a strike, e.g. the bot score's reasons
    warn_after: int
    suspend_after: int
    at: datetime
    policy: str = ""
    ordering: tuple[str, ...] = ()  # the visitor classes the active policy lets order


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


def failed_registered_signature(signals: Mapping[str, Any] | None) -> bool:
    """True when the request carried a registered key's signature that did not verify."""
    signature = (signals or {}).get("signature")
    if not isinstance(signature, Mapping):
        return False
    return bool(signature.get("registered")) and signature.get("code") != "verified"


def _what(visitor_class: str) -> str:
    if visitor_class == "automation":
        return "came from a tool that did not name itself as an agent"
    return "looked like an agent posing as a browser"


def _join(labels: list[str]) -> str:
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def ordering_sentence(policy: str, ordering: tuple[str, ...]) -> str:
    """Who may order under the active policy, e.g. "The active policy (closed) lets only the
    account holder and the store's assistant order."."""
    active = f"The active policy ({policy})" if policy else "The store's policy"
    labels = [label for c, label in ORDERING_LABELS.items() if c in ordering]
    if not labels:
        return f"{active} lets nobody order."
    return f"{active} lets only {_join(labels)} order."


def _sentence(strikes: int, visitor_class: str, latest: str, rest: str) -> str:
    """`N requests on this account looked like … (latest: …).`, then `rest`, within MAX_REASON:
    the signal is shortened, never the sentences around it."""
    noun = "request" if strikes == 1 else "requests"
    head = f"{strikes} {noun} on this account {_what(visitor_class)} (latest: "
    tail = f"). {rest}"
    room = MAX_REASON - len(head) - len(tail)
    latest = latest.strip().rstrip(".") or "behaviour scored as automated"
    if len(latest) > room:
        latest = latest[: max(room - 1, 0)].rstrip() + "…"
    return f"{head}{latest}{tail}"


def warning_reason(
    strikes: int,
    reason: str,
    *,
    visitor_class: str = "suspected-agent",
    policy: str = "",
    ordering: tuple[str, ...] = (),
    suspend_after: int | None = None,
) -> str:
    rest = ordering_sentence(policy, ordering)
    if suspend_after is not None:
        rest += f" At {suspend_after} such requests, ordering is suspended."
    return _sentence(strikes, visitor_class, reason, rest)


def suspension_reason(
    strikes: int,
    reason: str,
    *,
    visitor_class: str = "suspected-agent",
    policy: str = "",
    ordering: tuple[str, ...] = (),
) -> str:
    return _sentence(strikes, visitor_class, reason, ordering_sentence(policy, ordering))


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

    def should_strike(
        self,
        facts: RequestFacts,
        visitor_class: str,
        signals: Mapping[str, Any] | None = None,
    ) -> bool:
        return (
            visitor_class in FLAGGED_CLASSES
            and facts.route_class in ESCALATED_ROUTES
            and not failed_registered_signature(signals)
        )

    def record(
        self,
        facts: RequestFacts,
        *,
        visitor_class: str,
        reason: str,
        thresholds: Thresholds,
        now: datetime,
        signals: Mapping[str, Any] | None = None,
        policy: str = "",
        ordering: tuple[str, ...] = (),
    ) -> bool:
        """Queue a strike when this request counts as one; True when it was queued.

        `signals` are the decision's (a registered key's failed signature is never a strike);
        `policy` and `ordering` (the classes it lets order) are quoted to the shopper."""
        if not self.should_strike(facts, visitor_class, signals):
            return False
        cookie, bearer = session_cookie(facts), bearer_token(facts)
        if cookie is None and bearer is None:
            return False  # anonymous: there is no account to warn
        strike = Strike(
            session_cookie=cookie,
            bearer=bearer,
            session_id=facts.session_id[:128] if facts.session_id else None,
            client=client_fingerprint(facts.client_ip, facts.user_agent),
            visitor_class=visitor_class,
            reason=reason[:200] or "behaviour scored as automated",
            warn_after=thresholds.warn_after,
            suspend_after=thresholds.suspend_after,
            at=now,
            policy=policy,
            ordering=ordering,
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
            if target == "suspended":
                reason = suspension_reason(
                    row.strikes,
                    strike.reason,
                    visitor_class=strike.visitor_class,
                    policy=strike.policy,
                    ordering=strike.ordering,
                )
            else:
                reason = warning_reason(
                    row.strikes,
                    strike.reason,
                    visitor_class=strike.visitor_class,
                    policy=strike.policy,
                    ordering=strike.ordering,
                    suspend_after=strike.suspend_after if may_suspend else None,
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
