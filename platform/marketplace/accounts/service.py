"""Registration, login and session lookup; no HTTP here."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace.accounts.models import Account, AuthSession
from marketplace.core.errors import Conflict, Forbidden, Unauthorized
from marketplace.core.security import hash_token, new_token

# argon2id with OWASP's minimum profile (19 MiB, 2 passes, 1 lane): cheap enough that a
# workshop's thirty participants can log in at once without queueing.
# Run inside a login's transaction: (database session, the anonymous session's key, account id).
# Other domains hand what the anonymous visitor did to the account; the app factory wires them.
LoginHook = Callable[[Session, str, int], None]

# Workshop teams' addresses: only `sandbox workshop` creates accounts here, so nobody can register
# a team's address before the workshop and log in as that team afterwards.
TEAM_DOMAIN = "teams.nile.example"

_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
# Verifying against this keeps a login for an unknown email as slow as one for a known email.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def is_team_address(email: str) -> bool:
    """True for an address in the workshop teams' domain (or below it)."""
    domain = normalise_email(email).rpartition("@")[2].rstrip(".")
    return domain == TEAM_DOMAIN or domain.endswith("." + TEAM_DOMAIN)


def register(
    session: Session,
    *,
    email: str,
    password_hash: str,
    name: str,
    now: datetime,
    team_address_ok: bool = False,
) -> Account:
    """Create an account; refuses an email that is already registered or a team's address.

    The password comes hashed (`hash_password`): a request hashes it before it takes its turn
    at the database, so no writer waits out the hash. `team_address_ok` is for the workshop,
    which creates the team accounts.
    """
    email = normalise_email(email)
    if is_team_address(email) and not team_address_ok:
        raise Forbidden(
            f"Addresses at {TEAM_DOMAIN} are reserved for workshop teams: the organiser's "
            "`sandbox workshop` creates them and hands each team its login. Register with "
            "another email address.",
            title="Reserved address",
            type_slug="reserved-email",
        )
    if session.scalar(select(Account.id).where(Account.email == email)) is not None:
        raise Conflict(
            f"An account for {email} already exists; log in with POST /api/v1/sessions instead.",
            type_slug="email-taken",
        )
    account = Account(email=email, name=name.strip(), password_hash=password_hash, created_at=now)
    try:
        with session.begin_nested():
            session.add(account)
    except IntegrityError as exc:  # a concurrent registration of the same email won the race
        raise Conflict(
            f"An account for {email} already exists; log in instead.", type_slug="email-taken"
        ) from exc
    return account


@dataclass(frozen=True)
class VerifiedLogin:
    """Credentials checked against `checked_hash`, the account's hash when it was read;
    `new_hash` replaces an outdated one."""

    account_id: int
    checked_hash: str
    new_hash: str | None = None


def password_of(connection: Connection, email: str) -> tuple[int, str] | None:
    """The id and password hash of the account registered under `email`, if any.

    A login reads them on a connection of its own and hashes outside any transaction: its
    transaction begins only once the password is known to be right (`log_in_verified`), so on
    SQLite no writer waits out the hash."""
    row = connection.execute(
        select(Account.id, Account.password_hash).where(Account.email == normalise_email(email))
    ).first()
    return None if row is None else (row[0], row[1])


def verify_password(account: tuple[int, str] | None, password: str) -> VerifiedLogin:
    """`password` checked against `account`'s (id, hash), or a 401 that does not say which
    part was wrong; a missing account takes as long."""
    try:
        _hasher.verify(account[1] if account else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        account = None
    if account is None:
        raise Unauthorized("The email or the password is wrong.", type_slug="bad-credentials")
    needs_rehash = _hasher.check_needs_rehash(account[1])
    return VerifiedLogin(account[0], account[1], hash_password(password) if needs_rehash else None)


def log_in_verified(session: Session, verified: VerifiedLogin) -> Account:
    """The account of checked credentials, loaded in the login's transaction; refused like a
    wrong password when the account is gone or its password changed (e.g. a workshop re-key)
    since the check."""
    account = session.get(Account, verified.account_id)
    if account is None or not hmac.compare_digest(account.password_hash, verified.checked_hash):
        raise Unauthorized("The email or the password is wrong.", type_slug="bad-credentials")
    if verified.new_hash is not None:
        account.password_hash = verified.new_hash
    return account


@dataclass(frozen=True)
class IssuedSession:
    token: str
    expires_at: datetime


def start_session(
    session: Session,
    account: Account,
    *,
    now: datetime,
    max_age_s: int,
    kind: str = "api",
    client: str | None = None,
    previous_session_key: str | None = None,
    login_hooks: Sequence[LoginHook] = (),
) -> IssuedSession:
    """Log `account` in with a brand-new token (never the one the client arrived with).

    `client` is the fingerprint of the client that logged in with the password (None for a token
    issued to someone, e.g. a workshop's handout). Each of `login_hooks` then hands what the
    anonymous session `previous_session_key` did to the account (e.g. its history), in the same
    transaction.
    """
    token = new_token()
    expires_at = now + timedelta(seconds=max_age_s)
    session.add(
        AuthSession(
            token_hash=hash_token(token),
            account_id=account.id,
            kind=kind,
            client=client,
            created_at=now,
            expires_at=expires_at,
        )
    )
    if previous_session_key:
        for hook in login_hooks:
            hook(session, previous_session_key, account.id)
    return IssuedSession(token=token, expires_at=expires_at)


def account_for_token(session: Session, token: str, *, now: datetime) -> Account | None:
    """The account a live session token belongs to, or None."""
    row = session.execute(
        select(Account, AuthSession.expires_at)
        .join(AuthSession, AuthSession.account_id == Account.id)
        .where(AuthSession.token_hash == hash_token(token))
    ).first()
    if row is None or row[1] <= now:
        return None
    account: Account = row[0]
    return account


def session_of_token(session: Session, token: str, *, now: datetime) -> AuthSession | None:
    """The live session a token opens, or None."""
    row = session.scalar(select(AuthSession).where(AuthSession.token_hash == hash_token(token)))
    if row is None or row.expires_at <= now:
        return None
    return row


def end_session(session: Session, token: str) -> None:
    session.execute(delete(AuthSession).where(AuthSession.token_hash == hash_token(token)))


def end_all_sessions(session: Session, account_id: int) -> int:
    """Log the account out everywhere: every cookie and token it had stops working."""
    result = session.execute(delete(AuthSession).where(AuthSession.account_id == account_id))
    return int(getattr(result, "rowcount", 0) or 0)
