"""The ACP adapter's own table: where each partner agent wants its order events (migration 0012)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.core.db import Base, UTCDateTime


class AcpWebhook(Base):
    """A partner's order-event receiver and the secret its events are signed with."""

    __tablename__ = "acp_webhooks"

    partner: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
