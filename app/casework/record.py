"""Writing what the API changes on a case: its record, notes and resolution.

Each write runs in the caller's transaction on a case locked for it (so the old values in
the log are the ones really replaced) and lands on the case's log with who did it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.log import record
from app.auth.access import Caller
from app.cases.models import Case, CaseNote, CaseRecord, Exclusion
from app.cases.report import fold
from app.cases.schemas import Outcome
from app.casework import commands, conflicts
from app.event_types import EventType
from app.roster.models import Hotline, Responder

RECORD_FIELDS = (
    "incident_at",
    "location",
    "description",
    "reported_person",
    "circumstances",
    "reporter_name",
    "reporter_contact",
    "reporter_anonymous",
    "witnesses",
    "suggested_responses",
)


class AlreadyResolved(Exception):
    pass


class UnknownResponder(Exception):
    """The responder to exclude is not on the case's hotline, or the name fits several."""


def in_zone(value: datetime | None, timezone: str) -> datetime | None:
    """A time given without an offset is the hotline's local time: what staff at the event
    write down."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(timezone))
    return value.astimezone(UTC)


def _loggable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{field: {"old": ..., "new": ...}} for every field whose value really changes, in the
    JSON form the log stores."""
    return {
        name: {"old": _loggable(old.get(name)), "new": _loggable(value)}
        for name, value in new.items()
        if _loggable(old.get(name)) != _loggable(value)
    }


def _record_of(session: Session, case: Case, now: datetime) -> CaseRecord:
    row = session.get(CaseRecord, case.id)
    if row is None:
        row = CaseRecord(case_id=case.id, reporter_anonymous=False, updated_at=now)
        session.add(row)
    return row


def update_record(
    session: Session, case: Case, fields: dict[str, Any], caller: Caller, now: datetime
) -> dict[str, dict[str, Any]]:
    """Apply the fields given; returns what changed (nothing changed: no event)."""
    if "incident_at" in fields:
        hotline = session.get_one(Hotline, case.hotline_id)
        fields = fields | {"incident_at": in_zone(fields["incident_at"], hotline.timezone)}
    row = _record_of(session, case, now)
    old = {name: getattr(row, name) for name in RECORD_FIELDS}
    diff = changes(old, fields)
    if not diff:
        return diff
    written = {name: fields[name] for name in diff if isinstance(fields[name], str)}
    _exclude_named(session, case, written, caller, now)
    for name in diff:
        setattr(row, name, fields[name])
    row.updated_at = now
    record(
        session,
        case_id=case.id,
        type=EventType.RECORD_UPDATED,
        actor=caller.actor,
        at=now,
        token_id=caller.token_id,
        changes=diff,
    )
    return diff


def _exclude_named(
    session: Session, case: Case, texts: dict[str, str | None], caller: Caller, now: datetime
) -> None:
    """A responder named in what is written on the case is excluded as if named in a report,
    before the write: they must never read what was written about them."""
    conflicts.exclude_named_in_writing(
        session, case, texts, now, actor=caller.actor, writers=caller.responder_ids
    )


def add_note(session: Session, case: Case, body: str, caller: Caller, now: datetime) -> CaseNote:
    _exclude_named(session, case, {"note": body}, caller, now)
    note = CaseNote(case_id=case.id, author=caller.name, author_role=caller.role, body=body, at=now)
    session.add(note)
    session.flush()
    record(
        session,
        case_id=case.id,
        type=EventType.NOTE_ADDED,
        actor=caller.actor,
        at=now,
        token_id=caller.token_id,
        note_id=note.id,
        text=body,
    )
    return note


def resolve(
    session: Session,
    case: Case,
    *,
    outcome: Outcome,
    follow_up_assignee: str | None,
    note: str | None,
    caller: Caller,
    now: datetime,
) -> None:
    """Close the case exactly as an SMS RESOLVE does, with the decided response."""
    if case.status == "resolved":
        raise AlreadyResolved(case.id)
    _exclude_named(session, case, {"resolution note": note}, caller, now)
    row = _record_of(session, case, now)
    row.outcome = outcome.value
    row.follow_up_assignee = follow_up_assignee
    row.updated_at = now
    detail: dict[str, Any] = {
        "via": "api",
        "token_id": caller.token_id,
        "outcome": outcome.value,
        "follow_up_assignee": follow_up_assignee,
    }
    if note:
        written = CaseNote(
            case_id=case.id, author=caller.name, author_role=caller.role, body=note, at=now
        )
        session.add(written)
        session.flush()
        detail |= {"note_id": written.id, "note": note}
    by = session.scalar(
        select(Responder).where(
            Responder.hotline_id == case.hotline_id, Responder.id.in_(caller.responder_ids)
        )
    )
    commands.close(session, case, now, actor=caller.actor, by=by, **detail)


def exclude_responder(
    session: Session, case: Case, who: str, caller: Caller, now: datetime
) -> tuple[Exclusion, bool]:
    """The chair or an admin excludes a responder (`who`: full name, alias or phone) from
    the case, with everything an exclusion does (cancelled pages, the holder replaced, the
    next tier paged when the current one is left empty). Returns the exclusion and whether
    it is new; an earlier exclusion keeps its reason."""
    responder = _responder_called(session, case.hotline_id, who)
    created = conflicts.exclude(
        session,
        case,
        responder.id,
        "chair_excluded",
        now,
        actor=caller.actor,
        token_id=caller.token_id,
    )
    exclusion = session.scalars(
        select(Exclusion).where(
            Exclusion.case_id == case.id, Exclusion.responder_id == responder.id
        )
    ).one()
    return exclusion, created


def _responder_called(session: Session, hotline_id: int, who: str) -> Responder:
    wanted = " ".join(fold(who).split())
    matches = [
        responder
        for responder in session.scalars(
            select(Responder).where(Responder.hotline_id == hotline_id).order_by(Responder.id)
        )
        if who.strip() == responder.phone
        or wanted in {" ".join(fold(name).split()) for name in (responder.name, *responder.aliases)}
    ]
    if not matches:
        raise UnknownResponder(
            "no responder of this case's hotline has that name, alias or phone number"
        )
    if len(matches) > 1:
        names = ", ".join(sorted(responder.name for responder in matches))
        raise UnknownResponder(f"that name fits several responders ({names}): give the full name")
    return matches[0]
