"""The outbox: every SMS or call the service owes someone, written in the same transaction
as the state change that caused it, and sent afterwards by the dispatcher."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime
from app.privacy.types import EncryptedText


class Outbound(Base):
    __tablename__ = "outbound"
    __table_args__ = (
        Index("ix_outbound_due", "status", "next_attempt_at"),
        # "The cases a responder was paged for": what a responder's API token may read.
        Index("ix_outbound_responder_case", "responder_id", "case_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"), index=True)
    # Set for messages to a responder, so eligibility is checked again at send time.
    responder_id: Mapped[int | None] = mapped_column(ForeignKey("responder.id"))
    # page | reminder | ack_notice | taken_notice | update_notice | reporter_notice | relay
    kind: Mapped[str] = mapped_column(String(20))
    step: Mapped[int | None] = mapped_column(Integer)  # the escalation step a page belongs to
    # A page is owed once per (case, responder, step): a unique key makes that a fact.
    dedupe_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    to_phone: Mapped[str] = mapped_column(EncryptedText)  # encrypted: may be a reporter's
    from_phone: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(EncryptedText)
    # pending -> claimed -> the provider's statuses (queued, sent, delivered, ...), or failed;
    # cancelled when it may no longer go out. See app.paging.outbox.
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    error: Mapped[str | None] = mapped_column(String(200))
