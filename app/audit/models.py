"""The escalation log: one row per thing that happened, never edited.

Rows are hash-chained per case (see app.audit.chain); on PostgreSQL a trigger refuses
UPDATE and DELETE on the table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime
from app.privacy.types import EncryptedJSON


class Event(Base):
    __tablename__ = "event"
    __table_args__ = (
        # One event per position in a case's chain: two writers can never fork it.
        UniqueConstraint("case_id", "seq"),
        # NULLs are distinct in a unique constraint, so the chain of events without a case
        # needs its own.
        Index(
            "ix_event_system_seq",
            "seq",
            unique=True,
            sqlite_where=text("case_id IS NULL"),
            postgresql_where=text("case_id IS NULL"),
        ),
        # Keyset pages of the whole log, oldest first, with or without a type filter.
        Index("ix_event_at_id", "at", "id"),
        Index("ix_event_type_at_id", "type", "at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"))
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    type: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # What people wrote (app.audit.chain.PRIVATE_DETAIL), encrypted; the chain covers its
    # keyed digest, so retention can erase it (set it NULL) and every link still holds.
    private: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON)
    private_digest: Mapped[str | None] = mapped_column(String(64))
