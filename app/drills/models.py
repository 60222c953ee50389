"""Drills: test pages before an event, and verification texts after a roster change.

A drill is never a case: its texts and calls are outbox rows with no case, its replies are
answered before any command or report is parsed, and nothing of it touches escalation.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime


class Drill(Base):
    __tablename__ = "drill"

    id: Mapped[int] = mapped_column(primary_key=True)
    hotline_id: Mapped[int] = mapped_column(ForeignKey("hotline.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # drill | verification
    code: Mapped[str] = mapped_column(String(8))  # what a responder replies: OK <code>
    voice: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_by: Mapped[str] = mapped_column(String(200))


class DrillCheck(Base):
    """One responder in one drill: the text (and call) sent, and their answer."""

    __tablename__ = "drill_check"

    id: Mapped[int] = mapped_column(primary_key=True)
    drill_id: Mapped[int] = mapped_column(ForeignKey("drill.id"), index=True)
    responder_id: Mapped[int] = mapped_column(ForeignKey("responder.id"), index=True)
    sms_id: Mapped[int | None] = mapped_column(ForeignKey("outbound.id"))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("outbound.id"))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_via: Mapped[str | None] = mapped_column(String(10))  # sms | voice
