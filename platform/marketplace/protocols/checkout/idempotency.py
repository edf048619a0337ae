"""Idempotency keys of the protocol doors: the first answer is stored and replayed to retries.

A retry with the same key and the same request (method, path, body) gets the first answer again,
byte for byte; the same key with another request is refused with 409. The key is claimed in the
request's transaction before the work is done, so a concurrent retry waits on the unique index
and then replays; if the work fails, the rollback releases the key with it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace.core.errors import ProblemError
from marketplace.protocols.checkout.models import ProtocolIdempotency

MAX_KEY_LENGTH = 255


class IdempotencyConflict(ProblemError):
    status = 409
    type_slug = "protocol-idempotency-conflict"
    title = "Idempotency key reused"


@dataclass(frozen=True)
class Replay:
    """The stored answer of the first request with this key."""

    status_code: int
    body: dict[str, Any]


@dataclass
class Claim:
    """A key claimed by this request; `finish` stores the answer it is about to send."""

    record: ProtocolIdempotency | None

    def finish(self, status_code: int, body: dict[str, Any]) -> None:
        if self.record is not None:
            self.record.status_code = status_code
            self.record.response = body


def fingerprint(method: str, path: str, body: Any) -> str:
    """What makes two requests "the same": method, path and the canonical JSON of the body."""
    canonical = json.dumps([method.upper(), path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _check_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ProblemError(
            f"The idempotency key must be 1-{MAX_KEY_LENGTH} printable characters; a UUID works.",
            status=400,
            title="Invalid idempotency key",
            type_slug="protocol-idempotency-key-invalid",
        )
    return key


def claim(
    session: Session, *, channel: str, key: str | None, request_fingerprint: str, now: datetime
) -> Claim | Replay:
    """Claim `key` for this request, or return the answer stored for it.

    No key: nothing is stored (`Claim(None)`). Raises IdempotencyConflict when the key was used
    for another request.
    """
    if key is None:
        return Claim(None)
    key = _check_key(key)
    record = ProtocolIdempotency(
        channel=channel,
        key=key,
        fingerprint=request_fingerprint,
        status_code=0,
        response=None,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(record)
    except IntegrityError:
        existing = session.scalar(
            select(ProtocolIdempotency)
            .where(ProtocolIdempotency.channel == channel, ProtocolIdempotency.key == key)
            .execution_options(populate_existing=True)
        )
        if existing is None:
            raise
        if existing.fingerprint != request_fingerprint:
            raise IdempotencyConflict(
                "This idempotency key was already used for a different request; send a new key "
                "for a new request, or repeat the first request unchanged to get its answer.",
            ) from None
        return Replay(status_code=existing.status_code, body=existing.response or {})
    return Claim(record)
