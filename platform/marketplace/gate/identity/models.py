"""Gate-owned tables for partners and account escalation (migration 0005).

Times that the hot path compares are stored as Unix seconds (floats), which both databases compare
cheaply and which need no timezone conversion per row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
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
