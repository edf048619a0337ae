"""An agent's own decision log: the gate's decisions on requests signed with its key.

Rows are found by the keyid the decision's signature signal recorded (`signals.signature.keyid`),
so an agent sees its failed signatures too, not only the requests that verified. The JSON path is
read by SQLAlchemy's JSON type on both databases (SQLite's json_extract, PostgreSQL's `#>>`), so
no column of its own is needed; the scan is bounded by the log's retention.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from marketplace.gate.models import GateDecision

MAX_PAGE_SIZE = 100


def verified_keyid(verdict: Any) -> str | None:
    """The keyid of the request's verified Web Bot Auth signature, or None."""
    signals: Mapping[str, Any] = getattr(verdict, "signals", None) or {}
    signature = signals.get("signature")
    if not isinstance(signature, Mapping) or signature.get("code") != "verified":
        return None
    keyid = signature.get("keyid")
    return keyid if isinstance(keyid, str) and keyid else None


def _row(row: GateDecision, reasons: Mapping[str, str]) -> dict[str, Any]:
    signals = row.signals or {}
    signature = signals.get("signature") if isinstance(signals, Mapping) else None
    signature = signature if isinstance(signature, Mapping) else {}
    return {
        "at": row.at,
        "method": row.method,
        "path": row.path,
        "door": row.door,
        "visitor_class": row.visitor_class,
        "rule": row.rule,
        "reason": reasons.get(row.rule),
        "action": row.action,
        "enforced": row.enforced,
        "status": row.status,
        "signature_status": signature.get("code"),
        "signature_reason": signature.get("reason"),
    }


def decisions_of_key(
    session: Session,
    keyid: str,
    *,
    reasons: Mapping[str, str],
    page: int,
    page_size: int,
    since: datetime | None = None,
) -> dict[str, Any]:
    """One page of the decisions on requests signed with `keyid`, newest first."""
    keyid_of_row = GateDecision.signals[("signature", "keyid")].as_string()
    conditions: list[Any] = [keyid_of_row == keyid]
    if since is not None:
        conditions.append(GateDecision.at >= since)
    total = session.scalar(select(func.count()).select_from(GateDecision).where(*conditions)) or 0
    rows = session.scalars(
        select(GateDecision)
        .where(*conditions)
        .order_by(GateDecision.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return {
        "items": [_row(row, reasons) for row in rows],
        "total": total,
        "page": page,
        "page_size": page_size,
    }
