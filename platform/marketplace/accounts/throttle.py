"""Login throttling: failed logins per account and per client, counted across every worker.

The counts live in the shared counters (the database or Redis, merged by every worker),
so a password guesser gains nothing by spreading attempts over workers. The windows are fixed
(they restart every `window_s` seconds): a guesser gets at most twice a limit around a window's
edge, which is still a handful of guesses against an argon2 hash.

Only failures count, and the limits are generous on purpose: a workshop puts thirty participants
behind one address, and all of them must be able to register and log in within a minute even
with a few typos each. What is refused is guessing: many wrong passwords for one account (from
anywhere), or many wrong passwords from one client (for any accounts).

The dashboard's admin-token form is guarded by the same counts: wrong admin tokens are counted per
client under the same limit, in buckets of their own, so a participant who guesses the token locks
only that form for their address, not the shopper logins of everyone behind it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from fastapi import Request

from marketplace.accounts.service import normalise_email
from marketplace.core.errors import ProblemError
from marketplace.core.security import hash_token
from marketplace.core.shared.state import SharedState


@dataclass(frozen=True)
class Limit:
    failures: int
    window_s: int


# Ten wrong passwords for one account in five minutes is guessing, not forgetting.
PER_ACCOUNT = Limit(failures=10, window_s=300)
# Sixty wrong passwords a minute from one address: thirty people may each mistype twice.
PER_CLIENT = Limit(failures=60, window_s=60)


class LoginThrottled(ProblemError):
    status = 429
    type_slug = "login-throttled"
    title = "Too many failed logins"


class LoginThrottle:
    """Counts failed logins and refuses further attempts once a limit is reached."""

    def __init__(
        self,
        state: SharedState,
        *,
        per_account: Limit = PER_ACCOUNT,
        per_client: Limit = PER_CLIENT,
    ) -> None:
        self.state = state
        self.per_account = per_account
        self.per_client = per_client

    def _buckets(self, email: str, client: str) -> list[tuple[str, Limit, str]]:
        # The email is hashed: the shared counter table is readable by operators, and an
        # address someone mistyped is personal data nobody needs to see there.
        account_key = hash_token(normalise_email(email))[:32]
        return [
            (f"login-fail:account:{account_key}", self.per_account, "for this account"),
            (f"login-fail:client:{client}", self.per_client, "for your address"),
        ]

    def _admin_buckets(self, client: str) -> list[tuple[str, Limit, str]]:
        # There is one admin token and no account to count against: a count for the token
        # itself would let any participant lock the educator out of the dashboard.
        return [(f"admin-token-fail:client:{client}", self.per_client, "from your address")]

    def check(self, email: str, client: str, now: datetime) -> None:
        """Raise a 429 problem when this account or this client has failed too often."""
        self._refuse_over_limit(
            self._buckets(email, client),
            now,
            what="failed logins",
            hint="If you forgot the password, register a new account.",
        )

    def failed(self, email: str, client: str) -> None:
        """Count one failed login against the account and the client."""
        self._count(self._buckets(email, client))

    def check_admin_token(self, client: str, now: datetime) -> None:
        """Raise a 429 problem when this client has sent too many wrong admin tokens."""
        self._refuse_over_limit(
            self._admin_buckets(client),
            now,
            what="wrong admin tokens",
            hint="The token is the value of SANDBOX_ADMIN_TOKEN the store runs with.",
        )

    def failed_admin_token(self, client: str) -> None:
        """Count one wrong admin token against the client."""
        self._count(self._admin_buckets(client))

    def _refuse_over_limit(
        self, buckets: list[tuple[str, Limit, str]], now: datetime, *, what: str, hint: str
    ) -> None:
        for bucket, limit, who in buckets:
            if self.state.hit(bucket, limit.window_s, amount=0) >= limit.failures:
                window_end = (math.floor(now.timestamp() / limit.window_s) + 1) * limit.window_s
                retry_after = max(1, math.ceil(window_end - now.timestamp()))
                raise LoginThrottled(
                    f"Too many {what} {who}; wait {retry_after} seconds (see Retry-After), "
                    f"then try again. {hint}",
                    headers={"Retry-After": str(retry_after)},
                    retry_after=retry_after,
                )

    def _count(self, buckets: list[tuple[str, Limit, str]]) -> None:
        for bucket, limit, _ in buckets:
            self.state.hit(bucket, limit.window_s)


def client_of(request: Request) -> str:
    """The address the request came from; the peer, since a header is only a claim."""
    return request.client.host if request.client else "-"
