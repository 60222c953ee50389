"""Whether a case's reporter can get texts from the hotline.

A withheld caller ID, a caller that is no phone number, a landline, or someone who texted
STOP cannot be texted back: trying anyway fails at Twilio, and a responder told "Sent" would
wait for an answer that cannot come. The case carries the fact and its reason; `REPLY` then
says so instead of sending, and texts to the reporter are dropped. START (or YES, UNSTOP)
from the reporter clears it.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.log import SYSTEM, record
from app.cases.models import Case
from app.event_types import EventType
from app.privacy import keys
from app.telephony import outcomes

#: Twilio's stand-ins for a withheld caller ID (anonymous, restricted, blocked, unavailable).
WITHHELD = frozenset({"+266696687", "+7378742833", "+2562533", "+8656696"})
_E164 = re.compile(r"\+[1-9]\d{6,14}")

# Reasons, as stored on the case and shown in the API.
CALLER_ID_WITHHELD = "caller_id_withheld"
NOT_A_PHONE_NUMBER = "not_a_phone_number"
NOT_A_MOBILE = outcomes.REASON_NOT_A_MOBILE
OPTED_OUT = outcomes.REASON_OPTED_OUT
INVALID_NUMBER = outcomes.REASON_INVALID_NUMBER


def reason_for_address(phone: str) -> str | None:
    """Why texts cannot reach this caller at all, None when they might."""
    if phone in WITHHELD:
        return CALLER_ID_WITHHELD
    if not _E164.fullmatch(phone):
        return NOT_A_PHONE_NUMBER
    return None


def reason_for_code(code: int | str | None) -> str | None:
    """The reason a Twilio error code gives, None for codes that may pass."""
    return outcomes.no_texts_reason(code)


def cannot_text(case: Case) -> str | None:
    """The stored reason the reporter cannot get texts, None when they can."""
    return case.reporter_unreachable_reason if case.reporter_unreachable_at else None


def mark_unreachable(session: Session, case: Case, reason: str | None, now: datetime) -> None:
    if reason is None or case.reporter_unreachable_at is not None:
        return
    case.reporter_unreachable_at = now
    case.reporter_unreachable_reason = reason
    record(
        session,
        case_id=case.id,
        type=EventType.REPORTER_UNREACHABLE_BY_SMS,
        actor=SYSTEM,
        at=now,
        reason=reason,
    )


def opted_out(session: Session, hotline_id: int, phone: str, now: datetime) -> None:
    """The reporter texted STOP: Twilio blocks every text from the hotline to them. Their
    open cases are marked, and their latest case too, so a later report knows it."""
    cases = _cases_of(session, hotline_id, phone)
    for case in cases:
        if case.status != "resolved" or case is cases[-1]:
            mark_unreachable(session, case, OPTED_OUT, now)


def opted_in(session: Session, hotline_id: int, phone: str, now: datetime, *, word: str) -> None:
    """START, YES or UNSTOP: Twilio unblocks them, and a number that texts us asks to be
    texted: whatever marked it (a STOP, an undelivered text) is cleared."""
    for case in _cases_of(session, hotline_id, phone):
        if case.reporter_unreachable_at is None:
            continue
        case.reporter_unreachable_at = None
        case.reporter_unreachable_reason = None
        record(
            session,
            case_id=case.id,
            type=EventType.REPORTER_REACHABLE_BY_SMS,
            actor=SYSTEM,
            at=now,
            why=f"they texted {word}",
        )


def at_opening(session: Session, case: Case, now: datetime) -> None:
    """A new case knows at once when its reporter cannot be texted: a withheld or
    non-phone caller, or a number that opted out on an earlier case and never opted in."""
    reason = reason_for_address(case.reporter_phone)
    if reason is None:
        earlier = session.scalar(
            select(Case.reporter_unreachable_reason)
            .where(
                Case.hotline_id == case.hotline_id,
                Case.reporter_hash == keys.active().lookup(case.reporter_phone),
                Case.id != case.id,
            )
            .order_by(Case.id.desc())
            .limit(1)
        )
        reason = OPTED_OUT if earlier == OPTED_OUT else None
    mark_unreachable(session, case, reason, now)


def _cases_of(session: Session, hotline_id: int, phone: str) -> list[Case]:
    # reporter_phone is encrypted: cases are found by its keyed hash (app.privacy.keys).
    query = select(Case).where(
        Case.hotline_id == hotline_id, Case.reporter_hash == keys.active().lookup(phone)
    )
    return list(session.scalars(query.order_by(Case.id)))
