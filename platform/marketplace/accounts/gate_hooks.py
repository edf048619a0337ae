"""The account operations the gate's escalation needs, handed to it by the app factory.

The gate may not import this domain (an import-linter contract), so it receives these as plain
callables: who a session cookie or bearer token belongs to, whether a request proves it is that
account holder's, and how to warn or suspend an account.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import update

from marketplace.accounts import service
from marketplace.accounts.anonymous import AnonymousTokens
from marketplace.accounts.models import Account
from marketplace.core.clock import Clock
from marketplace.core.db import Database
from marketplace.core.security import CookieSigner, hash_token

_RANK = {"active": 0, "warned": 1, "suspended": 2}


def account_resolver(
    database: Database,
    signer: CookieSigner,
    clock: Clock,
    anonymous: AnonymousTokens | None = None,
) -> Callable[[str | None, str | None], int | None]:
    """(session cookie, bearer token) → the id of the logged-in account, or None.

    `anonymous` is the app's set of tokens known to own no account (shared with the routes).
    """
    anonymous = anonymous if anonymous is not None else AnonymousTokens()

    def resolve(cookie: str | None, bearer: str | None) -> int | None:
        token = bearer or (signer.loads(cookie) if cookie else None)
        if not token or hash_token(token) in anonymous:
            return None
        with database.session() as session:
            account = service.account_for_token(session, token, now=clock())
        if account is None:
            anonymous.remember(hash_token(token))
            return None
        return account.id

    return resolve


def owner_resolver(
    database: Database, signer: CookieSigner, clock: Clock
) -> Callable[[str | None, str | None, str], int | None]:
    """(session cookie, bearer token, client fingerprint) → the account the request proves it
    is the holder of, or None.

    Proof is a session started by logging in with the account's password, used from the client
    that logged in (`AuthSession.client`). A token issued to someone (a workshop's handout) or a
    session used from another client proves only that the sender holds the credential.
    """

    def resolve(cookie: str | None, bearer: str | None, client: str) -> int | None:
        token = bearer or (signer.loads(cookie) if cookie else None)
        if not token:
            return None
        with database.session() as session:
            row = service.session_of_token(session, token, now=clock())
            if row is None or row.client is None or row.client != client:
                return None
            return row.account_id

    return resolve


def status_setter(database: Database) -> Callable[[int, str, str], None]:
    """Set an account to `warned` or `suspended` with the reason the shopper is shown."""

    def set_status(account_id: int, status: str, reason: str) -> None:
        if status not in _RANK:
            raise ValueError(f"unknown account status {status!r}")
        lower = [s for s, rank in _RANK.items() if rank < _RANK[status]]
        with database.session() as session:
            # Never lowers a status: a suspended account is not set back to warned by a late strike.
            session.execute(
                update(Account)
                .where(Account.id == account_id)
                .where(Account.status.in_(lower))
                .values(status=status, status_reason=reason[:300])
            )

    return set_status
