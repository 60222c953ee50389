"""Voice pages: an SMS page that cannot be delivered becomes a call to the same responder;
a call that nobody takes pages the next tier at once.

A call page is an `outbound` row of kind `call_page` whose body is the page text; the
dispatcher places it, Twilio fetches its TwiML from /twilio/voice/page/{id}, and its status
callbacks land on the row like a message's.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app import wording
from app.audit.log import SYSTEM, record
from app.cases import service
from app.cases.models import Case
from app.paging import engine as clock
from app.paging.engine import audience
from app.paging.models import Outbound
from app.paging.outbox import CALL_PAGE, already_queued, enqueue
from app.paging.reachability import mark_unreachable
from app.roster.models import Hotline, Responder
from app.telephony import outcomes
from app.voice import recordings, twiml
from app.voice.calls import Answer, locked_case, not_accepted
from app.voice.urls import page_choice_url, page_listen_url

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
        type="call_fallback",
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
    case = locked_case(session, row.case_id)
    if case is None or case.status != "open":
        return False
    who = session.get_one(Responder, row.responder_id).name if row.responder_id else None
    next_tier = clock.hurry(case, now)
    record(
        session,
        case_id=case.id,
        type="page_unanswered",
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
    if status not in CALL_ORDER or CALL_ORDER[status] <= CALL_ORDER.get(row.status, 0):
        return False
    row.status = status
    who = session.get_one(Responder, row.responder_id).name if row.responder_id else None
    extra = {k: v for k, v in (("code", code), ("seconds", seconds)) if v}
    record(
        session,
        case_id=row.case_id,
        type="call_status",
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
        row.error = f"{status} (code {code})" if code else status
        record(
            session,
            case_id=row.case_id,
            type="page_failed",
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


def _call_page(
    session: Session, outbound_id: int, *, lock: bool = False
) -> tuple[Outbound, Case, Responder] | None:
    """The call page, its case (locked when it is about to change) and responder, if they
    may still hear about the case."""
    row = session.get(Outbound, outbound_id)
    if row is None or row.kind != CALL_PAGE or row.case_id is None or row.responder_id is None:
        return None
    case = locked_case(session, row.case_id) if lock else session.get(Case, row.case_id)
    if case is None or not audience(session, case).may_hear(row.responder_id):
        return None
    return row, case, session.get_one(Responder, row.responder_id)


def page_call(
    session: Session,
    outbound_id: int,
    *,
    base: str,
    link_secret: str = "",
    now: datetime | None = None,
) -> Answer:
    """What answers the paging call hears first: who calls, and 1 to hear the page. Nothing
    about the case yet: it may be a voicemail, which must not record the report."""
    found = _call_page(session, outbound_id)
    if found is None:
        return twiml.hang_up(), False
    row, case, responder = found
    gone = service.not_takeable(session, case, responder)
    if gone:
        return twiml.hang_up(wording.spoken(gone)), False
    hotline = session.get_one(Hotline, case.hotline_id)
    return twiml.page_prompt(
        wording.call_page_prompt(hotline.name), page_listen_url(base, row.id)
    ), False


def page_listen(
    session: Session,
    outbound_id: int,
    *,
    digits: str,
    now: datetime,
    base: str,
    link_secret: str = "",
) -> Answer:
    """A person pressed 1: the page, and 1 to take the case. No key (a machine) hangs up.
    A voicemail the page quotes is played, through a link made for this responder alone."""
    found = _call_page(session, outbound_id)
    if found is None:
        return twiml.hang_up(), False
    row, case, responder = found
    if digits != "1":
        return not_accepted(session, case, responder, now, digits, outbound_id=row.id)
    gone = service.not_takeable(session, case, responder)
    if gone:
        return twiml.hang_up(wording.spoken(gone)), False
    text = wording.call_page(row.body, case.id)
    play = []
    if link_secret:
        bearer = recordings.Bearer("r", responder.id)
        play = [
            recordings.link(base, link_secret, int(m.group(1)), bearer, now)
            for m in recordings.MARKER.finditer(row.body)
        ]
    return twiml.page(text, page_choice_url(base, row.id), play=play), False


def page_choice(session: Session, outbound_id: int, *, digits: str, now: datetime) -> Answer:
    """1 acknowledges exactly as `ACK` would; anything else is logged, not counted."""
    found = _call_page(session, outbound_id, lock=True)
    if found is None:
        return twiml.hang_up(), False
    row, case, responder = found
    if digits != "1":
        return not_accepted(session, case, responder, now, digits, outbound_id=row.id)
    answer = service.acknowledge(session, case, responder, now, via="voice")
    if case.status == "acknowledged" and case.acknowledged_by_id == responder.id:
        return twiml.hang_up(wording.call_page_taken(case.id)), True
    return twiml.hang_up(wording.spoken(answer)), False
