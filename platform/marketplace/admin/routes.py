"""Admin endpoints: the platform's figures for the dashboard, the harness and workshops."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from marketplace.admin import service
from marketplace.core.admin import AdminDep
from marketplace.core.deps import NowDep, SessionDep
from marketplace.core.errors import Unprocessable
from marketplace.gate.routes import get_runtime

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


def rule_reasons(request: Request) -> dict[str, str]:
    """Rule id -> the sentence the active policy gives for it."""
    return {
        rule_id: rule.reason for rule_id, rule in get_runtime(request).compiled.rules_by_id.items()
    }


@router.get(
    "/stats",
    summary="Traffic, decisions, orders by channel, ads and revenue",
    description="Aggregates the decision log and the orders since `since` (ISO 8601) or over "
    "the last `window_s` seconds (default: everything). `team` narrows the traffic figures to "
    "one workshop team. Needs the admin token.",
)
def stats(
    request: Request,
    session: SessionDep,
    now: NowDep,
    _admin: AdminDep,
    since: Annotated[datetime | None, Query(description="Start of the window, ISO 8601.")] = None,
    window_s: Annotated[
        int | None, Query(ge=1, le=30 * 86400, description="Or: the last N seconds.")
    ] = None,
    team: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    if since is not None and window_s is not None:
        raise Unprocessable("Give either 'since' or 'window_s', not both.")
    if since is not None and since.tzinfo is None:
        raise Unprocessable("'since' needs a timezone, e.g. 2026-11-30T12:00:00Z.")
    start = since or (now - timedelta(seconds=window_s) if window_s else None)
    runtime = get_runtime(request)
    if runtime.decision_log is not None:
        runtime.decision_log.flush()  # the figures include what is still queued
    return service.platform_stats(
        session, since=start, now=now, reasons=rule_reasons(request), team=team
    )
