"""A case is one report: its messages, exclusions and escalation state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from app.audit import log
from app.db import Base, UTCDateTime
from app.privacy import keys
from app.privacy.types import EncryptedText
from app.roster.models import Hotline, Responder

# A case is open until someone takes it (acknowledged) and until it is resolved.
OPEN_STATES = ("open", "acknowledged")


class Case(Base):
    __tablename__ = "case"
    __table_args__ = (
        # The escalation engine's work queue: open cases ordered by when they are next due.
        Index("ix_case_due", "next_due_at"),
        Index("ix_case_reporter", "hotline_id", "reporter_hash", "status"),
        # The API's keyset pages, newest first, unfiltered or by status or hotline.
        Index("ix_case_opened", "opened_at", "id"),
        Index("ix_case_status_opened", "status", "opened_at", "id"),
        Index("ix_case_hotline_opened", "hotline_id", "opened_at", "id"),
        # The cases a responder took or closed, which their API token may read.
        Index("ix_case_acknowledged_by", "acknowledged_by_id"),
        Index("ix_case_resolved_by", "resolved_by_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)  # the case number people type
    hotline_id: Mapped[int] = mapped_column(ForeignKey("hotline.id"))
    reporter_phone: Mapped[str] = mapped_column(EncryptedText)  # E.164, client:/sip:
    # The keyed hash of reporter_phone (app.privacy.keys.Keyring.lookup), set with it: how a
    # follow-up finds its case. NULL once retention erased the number.
    reporter_hash: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(10))  # sms | voice
    status: Mapped[str] = mapped_column(String(20), default="open")  # open|acknowledged|resolved
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    unroutable: Mapped[bool] = mapped_column(Boolean, default=False)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("responder.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("responder.id"))
    # The policy frozen at opening, and the next step of it to run (None once stopped).
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    escalation_started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_step: Mapped[int] = mapped_column(Integer, default=0)
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_update_notice_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Who was on the roster when the case opened: the only people it may ever page (less
    # anyone deactivated since). None for a case older than this rule.
    members: Mapped[list[int] | None] = mapped_column(JSON)
    # Bumped when the holder leaves the case, so the policy's pages are owed once more.
    paging_round: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Set while the reporter cannot get texts (app.cases.reporter): why, and since when.
    reporter_unreachable_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reporter_unreachable_reason: Mapped[str | None] = mapped_column(String(32))

    hotline: Mapped[Hotline] = relationship()
    acknowledged_by: Mapped[Responder | None] = relationship(foreign_keys=[acknowledged_by_id])
    messages: Mapped[list[Message]] = relationship(order_by="Message.id")
    exclusions: Mapped[list[Exclusion]] = relationship(order_by="Exclusion.id")

    @validates("reporter_phone")
    def _hash_reporter(self, _key: str, phone: str) -> str:
        self.reporter_hash = keys.active().lookup(phone) if phone else None
        return phone


class Message(Base):
    """Every text on a case: the reporter's, relays to them, and a responder's NEW report."""

    __tablename__ = "message"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    direction: Mapped[str] = mapped_column(String(10))  # in | out
    author: Mapped[str] = mapped_column(String(200))  # "reporter" or a responder's name
    body: Mapped[str] = mapped_column(EncryptedText)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class Exclusion(Base):
    __tablename__ = "exclusion"
    __table_args__ = (
        UniqueConstraint("case_id", "responder_id"),
        # What a responder-bound API token may not see.
        Index("ix_exclusion_responder", "responder_id", "case_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    responder_id: Mapped[int] = mapped_column(ForeignKey("responder.id"))
    reason: Mapped[str] = mapped_column(String(32))  # named_in_report|reporter_flagged|recused
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    responder: Mapped[Responder] = relationship()


class Recording(Base):
    """A voicemail's recording at Twilio. Its URL never leaves the service: responders and
    the API get a signed link to /recordings/... (app.cases.recordings)."""

    __tablename__ = "recording"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    sid: Mapped[str | None] = mapped_column(String(64))
    # Encrypted like every report content; emptied by retention (app.paging.retention).
    twilio_url: Mapped[str] = mapped_column(EncryptedText)
    seconds: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class CaseRecord(Base):
    """What staff gather about an incident (the staff procedure's list), and what was decided.

    Written through the API by a chair or admin; a case has none until someone writes it.
    """

    __tablename__ = "case_record"

    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), primary_key=True)
    incident_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    location: Mapped[str | None] = mapped_column(EncryptedText)
    description: Mapped[str | None] = mapped_column(EncryptedText)
    reported_person: Mapped[str | None] = mapped_column(EncryptedText)  # name, badge ...
    circumstances: Mapped[str | None] = mapped_column(EncryptedText)
    reporter_name: Mapped[str | None] = mapped_column(EncryptedText)
    reporter_contact: Mapped[str | None] = mapped_column(EncryptedText)
    reporter_anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    witnesses: Mapped[str | None] = mapped_column(EncryptedText)
    suggested_responses: Mapped[str | None] = mapped_column(EncryptedText)  # reporter's
    outcome: Mapped[str | None] = mapped_column(String(32))  # app.cases.schemas.Outcome
    follow_up_assignee: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CaseNote(Base):
    """A note on a case by whoever holds an API token: responders may add them too."""

    __tablename__ = "case_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    author: Mapped[str] = mapped_column(String(200))  # the token's name
    author_role: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(EncryptedText)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


# Every case starts its own hash chain (app.audit.log), known empty to the transaction
# that inserts it.
sa_event.listen(Case, "after_insert", log.new_chain)
