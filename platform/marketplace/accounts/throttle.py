"""Login throttling: failed logins per account and per client, counted across every worker.

The counts live in the gate's shared counters (the database or Redis, merged by every worker),
so a password guesser gains nothing by spreading attempts over workers. The windows are fixed
(they restart every `window_s` seconds): a guesser gets at most twice a limit around a window's
edge, which is still a handful of guesses against an argon2 hash.

Only failures count, and the limits are generous on purpose: a workshop puts thirty participants
behind one address, and all of them must be able to register and log in within a minute even
with a few typos each. What is refused is guessing: many wrong passwords for one account (from
anywhere), or many wrong passwords from one client (for any accounts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from marketplace.accounts.service import normalise_email
from marketplace.core.errors import ProblemError
from marketplace.core.security import hash_token
from marketplace.gate.state import SharedState, get_shared_state


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
            (f"login-fail:account:{account_key}", self.per_account, "this account"),
            (f"login-fail:client:{client}", self.per_client, "your address"),
        ]

    def check(self, email: str, client: str, now: datetime) -> None:
        """Raise a 429 problem when this account or this client has failed too often."""
        for bucket, limit, who in self._buckets(email, client):
            if self.state.hit(bucket, limit.window_s, amount=0) >= limit.failures:
                window_end = (math.floor(now.timestamp() / limit.window_s) + 1) * limit.window_s
                retry_after = max(1, math.ceil(window_end - now.timestamp()))
                raise LoginThrottled(
                    f"Too many failed logins for {who}; wait {retry_after} seconds (see "
                    "Retry-After), then try again. If you forgot the password, register a new "
                    "account.",
                    headers={"Retry-After": str(retry_after)},
                    retry_after=retry_after,
                )

    def failed(self, email: str, client: str) -> None:
        """Count one failed login against the account and the client."""
        for bucket, limit, _ in self._buckets(email, client):
            self.state.hit(bucket, limit.window_s)


def get_login_throttle(request: Request) -> LoginThrottle:
    throttle: LoginThrottle | None = getattr(request.app.state, "login_throttle", None)
    if throttle is None:
        throttle = request.app.state.login_throttle = LoginThrottle(
            get_shared_state(request.app.state)
        )
    return throttle


def client_of(request: Request) -> str:
    """The address the request came from; the peer, since a header is only a claim."""
    return request.client.host if request.client else "-"


LoginThrottleDep = Annotated[LoginThrottle, Depends(get_login_throttle)]
