"""Voice fallback: an SMS page that cannot be delivered becomes a call to the same
responder; a call page that nobody takes pages the next tier at once.

These are the rules; what the call says and hears (its TwiML) is app.voice.pages. A call
page is an `outbound` row of kind `call_page` whose body is the page text; the dispatcher
places it and its status callbacks land on the row like a message's (app.paging.delivery).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app.audit.log import SYSTEM, record
from app.cases.models import Case
from app.event_types import EventType
from app.paging import engine as clock
from app.paging.engine import audience
from app.paging.models import Outbound
from app.paging.outbox import CALL_PAGE, already_queued, enqueue, failure
from app.paging.reachability import mark_unreachable
from app.roster.models import Responder
from app.telephony import outcomes

# A call's statuses in the order they happen; a late or repeated callback never moves a
# row back. Every ending ranks the same: the first one reported is the one that counts.
CALL_ORDER = {
    "queued": 2,
    "initiated": 3,
    "ringing": 4,
    "in-progress": 5,
    "completed": 6,
    "busy": 6,
    "no-answer": 6,
    "failed": 6,
    "canceled": 6,
}
CALL_FAILED = outcomes.CALL_FAILED


def call_moved(row: Outbound, status: str, code: str | None) -> bool:
    """A call's status callback (a page's or a drill's test call), kept on its row forward
    only; a failed ending names its error. Returns whether the row moved."""
    if status not in CALL_ORDER or CALL_ORDER[status] <= CALL_ORDER.get(row.status, 0):
        return False
    row.status = status
    if status in CALL_FAILED:
        row.error = failure(status, code)
    return True


def call_instead(
    session: Session, row: Outbound, now: datetime, *, unreachable: bool = True
) -> bool:
    """An SMS page Twilio could not deliver (opted out, not a mobile, undelivered...)
    becomes a call to the same responder, while the case is open and they may hear of it.
    `unreachable=False` (the page only expired in Twilio's queue) leaves their later
    pages on SMS."""
    if row.kind != "page" or row.case_id is None or row.responder_id is None:
        return False
    if unreachable:
        reason = row.error or "undeliverable"
        mark_unreachable(session, row.responder_id, reason, now, case_id=row.case_id)
    case = session.get_one(Case, row.case_id)
    aud = audience(session, case)
    if case.status != "open" or not aud.may_hear(row.responder_id):
        return False
    key = f"call:{row.id}"
    if already_queued(session, [key]):
        return False
    person = next(p for p in aud.people if p.id == row.responder_id)
    enqueue(
        session,
        kind=CALL_PAGE,
        case_id=case.id,
        responder_id=person.id,
        step=row.step,
        dedupe_key=key,
        to_phone=person.phone,
        from_phone=aud.hotline.number,
        body=row.body,
        now=now,
    )
    record(
        session,
        case_id=case.id,
        type=EventType.CALL_FALLBACK,
        actor=SYSTEM,
        at=now,
        to=aud.names[person.id],
        instead_of=row.id,
    )
    return True


def call_unanswered(session: Session, row: Outbound, now: datetime, *, status: str) -> bool:
    """A call page ended and the case is still open: the next tier is paged at once rather
    than at its time (a voicemail answering the call proves nobody has the case)."""
    if row.case_id is None:
        return False
    case = session.get(Case, row.case_id, with_for_update=True)  # the SMS path may act too
    if case is None or case.status != "open":
        return False
    who = session.get_one(Responder, row.responder_id).name if row.responder_id else None
    next_tier = clock.hurry(case, now)
    record(
        session,
        case_id=case.id,
        type=EventType.PAGE_UNANSWERED,
        actor=SYSTEM,
        at=now,
        kind=CALL_PAGE,
        to=who,
        status=status,
        outbound_id=row.id,
        next_tier_now=next_tier,
    )
    return next_tier


def call_progress(
    session: Session,
    row: Outbound,
    status: str,
    now: datetime,
    *,
    code: str | None = None,
    seconds: str | None = None,
) -> bool:
    """A call page's status callback, logged; its end decides whether to escalate now.

    Returns whether the worker has new work (the next tier fell due).
    """
    if not call_moved(row, status, code):
        return False
    who = session.get_one(Responder, row.responder_id).name if row.responder_id else None
    extra = {k: v for k, v in (("code", code), ("seconds", seconds)) if v}
    record(
        session,
        case_id=row.case_id,
        type=EventType.CALL_STATUS,
        actor=SYSTEM,
        at=now,
        outbound_id=row.id,
        sid=row.provider_sid,
        to=who,
        status=status,
        **extra,
    )
    if CALL_ORDER[status] < CALL_ORDER["completed"]:
        return False
    if status in CALL_FAILED:
        record(
            session,
            case_id=row.case_id,
            type=EventType.PAGE_FAILED,
            actor=SYSTEM,
            at=now,
            kind=CALL_PAGE,
            to=who,
            outbound_id=row.id,
            sid=row.provider_sid,
            status=status,
            code=code,
        )
    return call_unanswered(session, row, now, status=status)
