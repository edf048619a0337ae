"""The tables of the shared state (migration 0005; their names keep the gate's prefix).

Times that the hot path compares are stored as Unix seconds (floats), which both databases compare
cheaply and which need no timezone conversion per row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.core.db import Base, UTCDateTime

# A used signature is remembered by the SHA-256 digest of its replay key, in hex (migration 0009):
# nonces may be of any length, the stored key never is.
NONCE_KEY_LENGTH = 64


class GateNonce(Base):
    """A Web Bot Auth nonce already used; kept until its signature would have expired anyway."""

    __tablename__ = "gate_nonces"
    __table_args__ = (Index("ix_gate_nonces_expires", "expires_at"),)

    key: Mapped[str] = mapped_column(String(NONCE_KEY_LENGTH), primary_key=True)
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
    challenges_passed: Mapped[int] = mapped_column(Integer, default=0)  # migration 0011


class GateKV(Base):
    """Versioned shared values (the active policy, the partner registry's version)."""

    __tablename__ = "gate_kv"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    value: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
