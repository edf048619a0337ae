"""Workshop challenges: which product the teams must get an agent to order, and since when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.core.db import Base, UTCDateTime


class WorkshopChallenge(Base):
    __tablename__ = "workshop_challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    teams: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Whether strikes may suspend team accounts during this workshop (off unless asked for).
    suspend_accounts: Mapped[bool] = mapped_column(Boolean, default=False)
