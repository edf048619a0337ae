"""The gate's decision log table (migration 0003): one row per request the gate decided."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.core.db import Base, UTCDateTime


class GateDecision(Base):
    """What the gate decided for one request, and why."""

    __tablename__ = "gate_decisions"
    __table_args__ = (
        Index("ix_gate_decisions_at", "at"),
        Index("ix_gate_decisions_class_at", "visitor_class", "at"),
        Index("ix_gate_decisions_action_at", "action", "at"),
        Index("ix_gate_decisions_account", "account_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    method: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(String(512))  # the normalised path the policy matched
    raw_path: Mapped[str] = mapped_column(String(512))
    route_class: Mapped[str] = mapped_column(String(32))
    # web, api, ucp, acp or mcp (gate/doors.py): which door of the store the request used.
    door: Mapped[str] = mapped_column(String(8), server_default="web")
    visitor_class: Mapped[str] = mapped_column(String(32))
    rule: Mapped[str] = mapped_column(String(64))
    # What the policy decided; `enforced` is false when observe mode let the request through.
    action: Mapped[str] = mapped_column(String(16))
    enforced: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[int | None] = mapped_column(Integer)
    policy: Mapped[str] = mapped_column(String(64))
    policy_version: Mapped[int] = mapped_column(Integer)
    bot_score: Mapped[int | None] = mapped_column(Integer)
    signals: Mapped[dict[str, Any]] = mapped_column(JSON)
    agent: Mapped[str | None] = mapped_column(String(128))
    # A hash of the session cookie: enough to group requests, useless as a credential.
    session: Mapped[str | None] = mapped_column(String(32), index=True)
    account_id: Mapped[int | None] = mapped_column(Integer)
    team: Mapped[str | None] = mapped_column(String(64))
    client_ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(String(512))
    latency_us: Mapped[int] = mapped_column(Integer)
