"""Retention: what a report said is kept no longer than HOTLINE_RETENTION_DAYS after the case
was resolved.

Erased: message bodies (voicemail links and transcripts are messages too), notes, the record's
free text, the pages' and notices' texts, the reporter's number and its keyed hash, the
private parts of the case's events, and the voicemail recordings at Twilio (DELETE on the
Recording resource). Kept: the case's skeleton (hotline, channel, times, who took and resolved
it), its outcome, the exclusions and the log, which still verifies: the chain covers only the
private parts' keyed digests (docs/adr/0007-keys-encryption-and-retention.md). A
`contents_erased` event says what went.

A case whose recordings Twilio could not delete yet is left whole and tried again next run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session, sessionmaker

from app import wording
from app.audit.chain import ERASED
from app.audit.log import SYSTEM, record
from app.audit.models import Event
from app.cases.models import Case, CaseNote, CaseRecord, Message, Recording
from app.db import transaction
from app.paging.models import Outbound
from app.telephony.transport import SendError

log = logging.getLogger(__name__)

RECORD_TEXT = (
    "location",
    "description",
    "reported_person",
    "circumstances",
    "reporter_name",
    "reporter_contact",
    "witnesses",
    "suggested_responses",
)


@dataclass
class RetentionRun:
    erased: list[int] = field(default_factory=list)
    postponed: list[int] = field(default_factory=list)  # recordings not deleted yet


def due(session: Session, now: datetime, days: float) -> list[int]:
    """Resolved more than `days` ago and not erased yet, oldest first."""
    erased = exists().where(Event.case_id == Case.id, Event.type == ERASED)
    return list(
        session.scalars(
            select(Case.id)
            .where(
                Case.status == "resolved",
                Case.resolved_at < now - timedelta(days=days),
                ~erased,
            )
            .order_by(Case.resolved_at, Case.id)
        )
    )


def recordings_of(session: Session, case_id: int) -> list[str]:
    """The Twilio recording SIDs the case's log names (voicemails)."""
    details = session.scalars(select(Event.detail).where(Event.case_id == case_id))
    sids = {d.get("recording_sid") for d in details if isinstance(d, dict)}
    return sorted(s for s in sids if isinstance(s, str) and s.startswith("RE"))


def run(
    sessions: sessionmaker[Session], transport: object, now: datetime, days: float
) -> RetentionRun:
    """Erase every case that is due: its recordings at Twilio first, then its contents and
    the event saying so, one transaction per case."""
    result = RetentionRun()
    with sessions() as session:
        case_ids = due(session, now, days)
    delete = getattr(transport, "delete_recording", None)
    for case_id in case_ids:
        with sessions() as session:
            recordings = recordings_of(session, case_id)
        try:
            for sid in recordings:
                if delete is None:
                    raise SendError("this transport cannot delete recordings", retryable=False)
                delete(sid)
        except SendError as error:
            log.warning("case %s: recordings not deleted (%s); retried next run", case_id, error)
            result.postponed.append(case_id)
            continue
        with transaction(sessions) as session:
            case = session.get(Case, case_id, with_for_update={"key_share": True})
            if case is None or case.id not in due(session, now, days):
                continue  # erased by another process meanwhile
            erase(session, case, now, days=days, recordings=recordings)
        result.erased.append(case_id)
    return result


def erase(
    session: Session, case: Case, now: datetime, *, days: float, recordings: list[str]
) -> dict[str, Any]:
    """Erase one case's contents in the caller's transaction and log what went."""
    messages = _count(session, Message, case.id)
    session.execute(update(Message).where(Message.case_id == case.id).values(body=wording.ERASED))
    notes = _count(session, CaseNote, case.id)
    session.execute(update(CaseNote).where(CaseNote.case_id == case.id).values(body=wording.ERASED))
    fields: list[str] = []
    row = session.get(CaseRecord, case.id)
    if row is not None:
        fields = [name for name in RECORD_TEXT if getattr(row, name) is not None]
        for name in fields:
            setattr(row, name, None)
    session.execute(update(Outbound).where(Outbound.case_id == case.id).values(body=wording.ERASED))
    session.execute(  # what went to the reporter names their number
        update(Outbound)
        .where(Outbound.case_id == case.id, Outbound.responder_id.is_(None))
        .values(to_phone="")
    )
    case.reporter_phone = ""  # and its keyed hash with it (Case._hash_reporter)
    # The voicemails' Twilio URLs too: their links then answer 404 (app.voice.media).
    session.execute(update(Recording).where(Recording.case_id == case.id).values(twilio_url=""))
    private = session.execute(
        update(Event)
        .where(Event.case_id == case.id, Event.private.is_not(None))
        .values(private=None)
    ).rowcount
    detail = {
        "retention_days": days,
        "resolved_at": case.resolved_at.isoformat() if case.resolved_at else None,
        "messages": messages,
        "notes": notes,
        "record_fields": fields,
        "reporter_number": True,
        "recordings_deleted": recordings,
        "event_private_parts": private,
    }
    record(session, case_id=case.id, type=ERASED, actor=SYSTEM, at=now, **detail)
    log.info("case %s: contents erased under the retention policy", case.id)
    return detail


def _count(session: Session, model: type[Message] | type[CaseNote], case_id: int) -> int:
    return len(session.scalars(select(model.id).where(model.case_id == case_id)).all())
