"""Webhooks already answered, by Twilio's SID: a retried webhook gets the same answer
and changes nothing twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime


class WebhookReceipt(Base):
    __tablename__ = "webhook_receipt"

    # A SID, or a SID and a step of a call ("CA...:screen:no-answer")
    sid: Mapped[str] = mapped_column(String(255), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answer: Mapped[str] = mapped_column(Text)


class EarlyStatus(Base):
    """A status callback that arrived before the dispatcher stored its SID (Twilio can be
    that fast): kept here and applied once the SID is stored, never lost."""

    __tablename__ = "early_status"

    id: Mapped[int] = mapped_column(primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(20))
    code: Mapped[str | None] = mapped_column(String(20))
    seconds: Mapped[str | None] = mapped_column(String(20))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
