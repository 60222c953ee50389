"""Drills and verification texts: the shell around the pure rules in app.drills.rules.

A drill texts every active responder of one hotline (and optionally calls them) with a code
to reply; a roster load that adds a responder or changes a number texts that number a
verification code. Both go through the outbox, so the dispatcher sends them durably and
never inside a request. Neither opens a case nor touches escalation, and an answer is
caught before the SMS grammar sees it, so it is never a report or a command.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import wording
from app.audit.log import SYSTEM, record
from app.drills.models import Drill, DrillCheck
from app.drills.rules import CheckState, check_result, error_code
from app.event_types import EventType
from app.paging.models import Outbound
from app.paging.outbox import DRILL_CALL, DRILL_SMS, VERIFY_SMS, enqueue
from app.roster.models import Hotline, Responder

DRILL = "drill"
VERIFICATION = "verification"
DEFAULT_MINUTES = 15.0
VERIFY_WITHIN = timedelta(days=1)
# "OK 4821", "ok4821", "Ok, 4821." ; a bare "4821" only when it is a code they were sent.
OK_CODE = re.compile(r"^\W*ok\W*(\d{4})\W*$", re.IGNORECASE)
BARE_CODE = re.compile(r"^\s*(\d{4})\s*$")


class DrillError(ValueError):
    """A drill that cannot start (no such hotline, nobody active): nothing was queued."""


def new_code() -> str:
    return str(1000 + secrets.randbelow(9000))


def hotline_for(session: Session, number: str | None) -> Hotline:
    """The active hotline a drill is for: the one named, or the only one there is."""
    query = select(Hotline).where(Hotline.active).order_by(Hotline.id)
    if number is not None:
        hotline = session.scalar(query.where(Hotline.number == number))
        if hotline is None:
            raise DrillError(f"no active hotline has the number {number}")
        return hotline
    hotlines = session.scalars(query).all()
    if len(hotlines) != 1:
        listed = ", ".join(h.number for h in hotlines) or "none"
        raise DrillError(f"name the hotline (--hotline NUMBER); active hotlines: {listed}")
    return hotlines[0]


def start_drill(
    session: Session,
    hotline: Hotline,
    *,
    voice: bool,
    minutes: float,
    now: datetime,
    by: str,
) -> Drill:
    """Queue a test page (and call) to every active responder of the hotline."""
    if not minutes > 0:
        raise DrillError("the deadline must be more than 0 minutes")
    responders = session.scalars(
        select(Responder)
        .where(Responder.hotline_id == hotline.id, Responder.active)
        .order_by(Responder.id)
    ).all()
    if not responders:
        raise DrillError(f"hotline {hotline.number} has no active responder")
    drill = Drill(
        hotline_id=hotline.id,
        kind=DRILL,
        code=new_code(),
        voice=voice,
        started_at=now,
        deadline_at=now + timedelta(minutes=minutes),
        started_by=by[:200],
    )
    session.add(drill)
    session.flush()
    for responder in responders:
        _check(session, drill, hotline, responder, wording.drill_page(hotline.name, drill.code))
    record(
        session,
        case_id=None,
        type=EventType.DRILL_STARTED,
        actor=by,
        at=now,
        drill=drill.id,
        hotline=hotline.number,
        responders=len(responders),
        voice=voice,
        deadline=drill.deadline_at.isoformat(),
    )
    return drill


def queue_verification(
    session: Session, hotline: Hotline, responders: list[Responder], now: datetime
) -> int:
    """A one-line text with a code to each new or renumbered responder; returns how many."""
    if not responders:
        return 0
    drill = Drill(
        hotline_id=hotline.id,
        kind=VERIFICATION,
        code=new_code(),
        voice=False,
        started_at=now,
        deadline_at=now + VERIFY_WITHIN,
        started_by="roster load",
    )
    session.add(drill)
    session.flush()
    for responder in responders:
        _check(session, drill, hotline, responder, wording.verification(hotline.name, drill.code))
    record(
        session,
        case_id=None,
        type=EventType.VERIFICATION_QUEUED,
        actor=SYSTEM,
        at=now,
        drill=drill.id,
        hotline=hotline.number,
        responders=[r.name for r in responders],
    )
    return len(responders)


def _check(session: Session, drill: Drill, hotline: Hotline, responder: Responder, body: str):
    kind = DRILL_SMS if drill.kind == DRILL else VERIFY_SMS
    sms = enqueue(
        session,
        kind=kind,
        responder_id=responder.id,
        to_phone=responder.phone,
        from_phone=hotline.number,
        body=body,
        now=drill.started_at,
    )
    call = None
    if drill.voice:
        call = enqueue(
            session,
            kind=DRILL_CALL,
            responder_id=responder.id,
            to_phone=responder.phone,
            from_phone=hotline.number,
            body=wording.drill_call(hotline.name),
            now=drill.started_at,
        )
    session.flush()
    session.add(
        DrillCheck(
            drill_id=drill.id,
            responder_id=responder.id,
            sms_id=sms.id,
            call_id=call.id if call else None,
        )
    )


def answer_text(session: Session, responder: Responder, body: str, now: datetime) -> str | None:
    """A responder's reply to a drill or verification text, or None when the text is not
    one (then it is a command as usual). `OK <code>` is always taken as an answer."""
    match = OK_CODE.match(body) or BARE_CODE.match(body)
    if match is None:
        return None
    code = match.group(1)
    # By phone: one person on two hotlines may answer either hotline's number.
    check = session.scalar(
        select(DrillCheck)
        .join(Drill, Drill.id == DrillCheck.drill_id)
        .join(Responder, Responder.id == DrillCheck.responder_id)
        .where(Responder.phone == responder.phone, Drill.code == code)
        .order_by(DrillCheck.answered_at.is_not(None), DrillCheck.id.desc())
        .limit(1)
    )
    if check is None:
        return wording.drill_unknown_code(code) if OK_CODE.match(body) else None
    owner = session.get_one(Responder, check.responder_id)
    _answered(session, check, owner, now, via="sms")
    return wording.drill_answered(code)


def _answered(
    session: Session, check: DrillCheck, responder: Responder, now: datetime, *, via: str
) -> None:
    if check.answered_at is not None:
        return
    check.answered_at = now
    check.answered_via = via
    responder.phone_verified_at = now
    drill = session.get_one(Drill, check.drill_id)
    record(
        session,
        case_id=None,
        type=EventType.DRILL_ANSWERED,
        actor=responder.name,
        at=now,
        drill=drill.id,
        kind=drill.kind,
        via=via,
        late=now > drill.deadline_at,
    )


def call_check(session: Session, outbound_id: int) -> tuple[DrillCheck, Hotline] | None:
    """The drill check a test call belongs to, if it is one."""
    row = session.get(Outbound, outbound_id)
    if row is None or row.kind != DRILL_CALL:
        return None
    check = session.scalar(select(DrillCheck).where(DrillCheck.call_id == outbound_id))
    if check is None:
        return None
    drill = session.get_one(Drill, check.drill_id)
    return check, session.get_one(Hotline, drill.hotline_id)


def answer_call(session: Session, outbound_id: int, digits: str, now: datetime) -> bool:
    """1 on a test call confirms it; returns whether it did."""
    found = call_check(session, outbound_id)
    if found is None or digits != "1":
        return False
    check, _ = found
    _answered(session, check, session.get_one(Responder, check.responder_id), now, via="voice")
    return True


# --- the table -------------------------------------------------------------------------


def latest_drill(session: Session, hotline_number: str | None = None) -> Drill | None:
    query = select(Drill).where(Drill.kind == DRILL).order_by(Drill.id.desc()).limit(1)
    if hotline_number is not None:
        query = query.join(Hotline, Hotline.id == Drill.hotline_id).where(
            Hotline.number == hotline_number
        )
    return session.scalar(query)


def table(session: Session, drill: Drill, now: datetime) -> list[CheckState]:
    """Each responder of the drill: what happened to the test page, in roster order."""
    checks = session.scalars(
        select(DrillCheck).where(DrillCheck.drill_id == drill.id).order_by(DrillCheck.id)
    ).all()
    out = []
    for check in checks:
        responder = session.get_one(Responder, check.responder_id)
        sms = session.get(Outbound, check.sms_id) if check.sms_id else None
        call = session.get(Outbound, check.call_id) if check.call_id else None
        out.append(
            check_result(
                name=responder.name,
                role=responder.role,
                answered_at=check.answered_at,
                answered_via=check.answered_via,
                text_status=sms.status if sms else None,
                text_error=sms.error if sms else None,
                call_status=call.status if call else None,
                call_error=call.error if call else None,
                deadline=drill.deadline_at,
                now=now,
                verified=responder.phone_verified_at is not None,
            )
        )
    return out


__all__ = ["CheckState", "DrillError", "error_code"]
