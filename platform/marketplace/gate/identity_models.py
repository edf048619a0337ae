"""Gate-owned tables for identity and shared state (migration 0005).

Times that the hot path compares are stored as Unix seconds (floats), which both databases compare
cheaply and which need no timezone conversion per row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.core.db import Base, UTCDateTime


class GatePartner(Base):
    """An outside agent registered through the admin API, known by name."""

    __tablename__ = "gate_partners"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    keys: Mapped[list[GatePartnerKey]] = relationship(
        back_populates="partner",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="GatePartnerKey.id",
    )


class GatePartnerKey(Base):
    """One public Ed25519 JWK of a partner; the keyid (thumbprint) is unique across partners."""

    __tablename__ = "gate_partner_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("gate_partners.id", ondelete="CASCADE"))
    keyid: Mapped[str] = mapped_column(String(64), unique=True)
    jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    partner: Mapped[GatePartner] = relationship(back_populates="keys", lazy="raise")


class GateNonce(Base):
    """A Web Bot Auth nonce already used; kept until its signature would have expired anyway."""

    __tablename__ = "gate_nonces"
    __table_args__ = (Index("ix_gate_nonces_expires", "expires_at"),)

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    expires_at: Mapped[float] = mapped_column(Float)


class GateCounter(Base):
    """A rate-limit counter for one bucket and one fixed window."""

    __tablename__ = "gate_counters"
    __table_args__ = (Index("ix_gate_counters_expires", "expires_at"),)

    bucket: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[float] = mapped_column(Float)


class GateSessionSignal(Base):
    """Behaviour signals of one session, merged from every worker (sums, minima, maxima)."""

    __tablename__ = "gate_session_signals"
    __table_args__ = (Index("ix_gate_session_signals_last_seen", "last_seen"),)

    session_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    first_seen: Mapped[float] = mapped_column(Float)
    last_seen: Mapped[float] = mapped_column(Float)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    assets: Mapped[int] = mapped_column(Integer, default=0)
    views: Mapped[int] = mapped_column(Integer, default=0)
    beacons: Mapped[int] = mapped_column(Integer, default=0)
    webdriver_beacons: Mapped[int] = mapped_column(Integer, default=0)
    pointer_events: Mapped[int] = mapped_column(Integer, default=0)
    key_events: Mapped[int] = mapped_column(Integer, default=0)
    first_interaction_ms: Mapped[float | None] = mapped_column(Float)
    first_checkout: Mapped[float | None] = mapped_column(Float)
    flagged: Mapped[int] = mapped_column(Integer, default=0)


class GateKV(Base):
    """Versioned shared values (the active policy, the partner registry's version)."""

    __tablename__ = "gate_kv"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    value: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class GateAccountStrike(Base):
    """How often an account's traffic was flagged as agent-driven, and where escalation stands."""

    __tablename__ = "gate_account_strikes"

    account_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    strikes: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="active")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class GateEscalation(Base):
    """One escalation step taken against an account (warned, suspended), with its reason."""

    __tablename__ = "gate_escalations"
    __table_args__ = (Index("ix_gate_escalations_account", "account_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(300))
    strikes: Mapped[int] = mapped_column(Integer)
    session_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
