"""What the platform prunes and after how long: the gate's decision log and shopper history.

`SANDBOX_RETENTION_DAYS` (default 30) bounds `gate_decisions`, about 1 KB per request;
`SANDBOX_HISTORY_RETENTION_DAYS` (default 365) bounds `history_events`, the searches, views and
purchases Help Me Decide learns from. Its default stays above Help Me Decide's learning window
(`history_window_days`, 180 days by default), so pruning never takes what the recommender uses;
a shorter setting is allowed (privacy) and logged as a warning. The protocol doors' idempotency
records (the first answer to each key) are kept `SANDBOX_PROTOCOL_IDEMPOTENCY_DAYS` (default 2: a
retry within a day always finds its answer). 0 keeps a table forever.
"""

from __future__ import annotations

import logging
from typing import cast

from sqlalchemy import Table

from marketplace.core.clock import Clock
from marketplace.core.db import Database
from marketplace.core.retention import Retention, RetentionRule
from marketplace.core.settings import Settings
from marketplace.gate.models import GateDecision
from marketplace.history.models import HistoryEvent
from marketplace.protocols.checkout.models import ProtocolIdempotency

log = logging.getLogger(__name__)


def retention_rules(settings: Settings) -> list[RetentionRule]:
    """The tables the platform prunes, with the periods the settings give."""
    return [
        RetentionRule(
            name="gate decisions",
            table=cast(Table, GateDecision.__table__),
            column="at",
            days=settings.retention_days,
            setting="SANDBOX_RETENTION_DAYS",
        ),
        RetentionRule(
            name="history events",
            table=cast(Table, HistoryEvent.__table__),
            column="created_at",
            days=settings.history_retention_days,
            setting="SANDBOX_HISTORY_RETENTION_DAYS",
        ),
        RetentionRule(
            name="protocol idempotency records",
            table=cast(Table, ProtocolIdempotency.__table__),
            column="created_at",
            days=settings.protocol_idempotency_days,
            setting="SANDBOX_PROTOCOL_IDEMPOTENCY_DAYS",
        ),
    ]


def build_retention(
    settings: Settings, database: Database, clock: Clock, *, learning_window_days: float
) -> Retention:
    """The platform's retention, warning when history goes before Help Me Decide stops reading."""
    history = settings.history_retention_days
    if 0 < history < learning_window_days:
        log.warning(
            "SANDBOX_HISTORY_RETENTION_DAYS=%s is shorter than Help Me Decide's learning window "
            "(%s days): its recommendations will know less of each shopper",
            history,
            learning_window_days,
        )
    return Retention(database, retention_rules(settings), clock=clock)
