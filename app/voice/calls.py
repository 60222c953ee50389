"""An inbound call, step by step.

Each function runs inside one webhook's transaction (through `once`, keyed by Twilio's SID
and the step) and returns the TwiML answer and whether it left work for the worker. A call
keeps no state of its own: the case, its events and the webhook receipts are the call's
state, and the case number rides in every signed URL.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import wording
from app.audit.log import REPORTER, SYSTEM, record
from app.cases.models import OPEN_STATES, Case, Exclusion, Recording
from app.cases.recordings import marker
from app.cases.reporter import WITHHELD
from app.casework import commands, conflicts, intake
from app.event_types import EventType
from app.paging import outbox
from app.paging.engine import audience, queue_pages
from app.paging.urls import CallUrls
from app.roster.models import Hotline, Responder
from app.telephony import twiml
from app.telephony.webhook import EMPTY_TWIML, replaying
from app.voice.ringing import ring_plan

log = logging.getLogger(__name__)

Answer = tuple[str, bool]  # the TwiML, and whether the worker has something new to do

E164 = re.compile(r"\+[1-9]\d{6,14}")
# A call pages nobody until its caller has chosen at the greeting (2: a lead is involved).
# A caller who hangs up during the greeting never reaches the choice: its paging starts
# this long after the call came in, later than any caller still listening could press 2.
CHOICE_GRACE = timedelta(seconds=25)


def identifiable(phone: str) -> bool:
    """Whether a caller ID names one person: withheld numbers must never merge two callers'
    reports into one case."""
    return bool(E164.fullmatch(phone)) and phone not in WITHHELD


def not_accepted(
    session: Session, case: Case, responder: Responder, now: datetime, digits: str, **detail: int
) -> Answer:
    """An answered leg without a 1: logged, not counted, and hung up."""
    record(
        session,
        case_id=case.id,
        type=EventType.CALL_NOT_ACCEPTED,
        actor=responder.name,
        at=now,
        digits=digits or None,
        **detail,
    )
    return twiml.hang_up(wording.call_not_accepted()), False


def locked_case(session: Session, case_id: int) -> Case | None:
    """The case, locked for this transaction: a call's steps and the SMS path may act on it
    at the same moment (PostgreSQL; SQLite writers are serialised anyway)."""
    return session.get(Case, case_id, with_for_update=True)


def reporter_actor(session: Session, hotline_id: int, phone: str) -> str:
    """How the log names whoever reported: a responder by name, anyone else as the reporter."""
    name = session.scalar(
        select(Responder.name).where(
            Responder.hotline_id == hotline_id, Responder.phone == phone, Responder.active
        )
    )
    return name or REPORTER


def answer_call(
    session: Session, *, to: str, caller: str, call_sid: str, now: datetime, base: str
) -> Answer:
    """A call opens a case, whose paging waits for the caller's choice at the greeting (or
    CHOICE_GRACE, whichever comes first): no lead hears of a call before its caller could
    press 2. A call from a number with an open case is greeted with that case, and nothing
    is written on it until the caller chooses: pressing 2 gives the call a case of its own,
    and whoever holds the open one must see no change at all."""
    hotline = session.scalar(select(Hotline).where(Hotline.number == to))
    if hotline is None:
        log.warning("call %s to %s, which is no hotline; hung up", call_sid, to)
        return twiml.hang_up(wording.call_not_in_service()), False
    if not hotline.active:
        return _to_retired_hotline(session, hotline, caller, call_sid, now)
    earlier = intake.find_open_case(session, hotline.id, caller) if identifiable(caller) else None
    if earlier is not None:
        text = wording.call_greeting(hotline.name, earlier.id, joined=True)
        return twiml.greeting(text, CallUrls(base, earlier.id, joined=True).choice), False
    # A call replayed after a database outage was hung up long ago, with no choice.
    chosen = replaying.get() is not None
    case = _open_call_case(session, hotline, caller, call_sid, now, page_now=chosen)
    text = wording.call_greeting(hotline.name, case.id, joined=False)
    return twiml.greeting(text, CallUrls(base, case.id).choice), True


def _open_call_case(
    session: Session,
    hotline: Hotline,
    caller: str,
    call_sid: str,
    now: datetime,
    *,
    page_now: bool = False,
    policy: dict[str, Any] | None = None,
) -> Case:
    actor = reporter_actor(session, hotline.id, caller)
    case = intake.open_case(
        session,
        hotline,
        reporter_phone=caller,
        channel="voice",
        body=None,
        now=now,
        actor=actor,
        paging_from=None if page_now else now + CHOICE_GRACE,
        policy=policy,
    )
    _call_received(session, case, actor, call_sid, now, joined=False)
    return case


def _call_received(
    session: Session, case: Case, actor: str, call_sid: str, now: datetime, *, joined: bool
) -> None:
    """The call is on the case's log: on a case of its own, or `joined` to the caller's
    open one."""
    record(
        session,
        case_id=case.id,
        type=EventType.CALL_RECEIVED,
        actor=actor,
        at=now,
        call_sid=call_sid,
        joined=joined,
    )


def choose(
    session: Session,
    case_id: int,
    *,
    joined: bool,
    lead_involved: bool,
    call_sid: str,
    now: datetime,
    base: str,
) -> Answer:
    """The caller chose at the greeting (a key, or silence): paging starts, then ringing.

    2 means a lead responder is involved: every lead is excluded from the call's case
    (`reporter_flagged`), so only alternates are paged and rung. On a call that would join
    an open case, 2 opens a case of its own instead (carrying that case's exclusions): an
    alternate can take it even when a lead holds the earlier one, which stays as it was.
    """
    case = locked_case(session, case_id)
    if case is None:
        return twiml.hang_up(), False
    hotline = session.get_one(Hotline, case.hotline_id)
    actor = reporter_actor(session, case.hotline_id, case.reporter_phone)
    if joined and lead_involved:
        earlier = case
        case = _open_call_case(session, hotline, earlier.reporter_phone, call_sid, now)
        for exclusion in session.scalars(
            select(Exclusion).where(Exclusion.case_id == earlier.id).order_by(Exclusion.id)
        ).all():
            conflicts.exclude(
                session, case, exclusion.responder_id, exclusion.reason, now, actor=SYSTEM
            )
    elif joined:
        _call_received(session, case, actor, call_sid, now, joined=True)
    if lead_involved:
        record(
            session, case_id=case.id, type=EventType.LEAD_INVOLVED, actor=actor, at=now, via="call"
        )
        leads = session.scalars(
            select(Responder.id)
            .where(Responder.hotline_id == case.hotline_id, Responder.role == "lead")
            .order_by(Responder.id)
        ).all()
        for lead_id in leads:
            conflicts.exclude(
                session,
                case,
                lead_id,
                "reporter_flagged",
                now,
                actor=actor,
                why="the caller pressed 2: the report involves a lead responder",
            )
    intake.start_paging(session, case, now)
    answer, _ = ring(session, case.id, lead_involved=lead_involved, now=now, base=base)
    if joined and lead_involved:
        answer = twiml.prefixed(wording.call_own_case(case.id), answer)
    return answer, True


def _to_retired_hotline(
    session: Session, hotline: Hotline, caller: str, call_sid: str, now: datetime
) -> Answer:
    """A call to a deactivated hotline opens (or joins) a case that pages its alternates by
    SMS, and the caller hears its emergency information: never silence."""
    from app.paging.escalation import retired_policy

    case = intake.find_open_case(session, hotline.id, caller) if identifiable(caller) else None
    if case is None:
        policy = retired_policy(hotline.policy)
        case = _open_call_case(
            session, hotline, caller, call_sid, now, page_now=True, policy=policy
        )
    else:
        actor = reporter_actor(session, hotline.id, caller)
        _call_received(session, case, actor, call_sid, now, joined=True)
    text = wording.retired_call(hotline.name, case.id, hotline.emergency_info)
    return twiml.hang_up(text), True


def ring(
    session: Session, case_id: int, *, lead_involved: bool, now: datetime, base: str
) -> Answer:
    """Ring whom the case's audience rule names; past ten, page them by SMS instead.

    A caller who pressed 2 reaches only the alternates (every lead is excluded by then).
    """
    case = locked_case(session, case_id)
    if case is None:
        return twiml.hang_up(), False
    urls = CallUrls(base, case.id)
    aud = audience(session, case)
    plan = ring_plan(
        case.policy,
        aud.rule,
        aud.spans,
        now,
        lead_involved=lead_involved,
        holder_id=case.acknowledged_by_id,
    )
    paged_already = outbox.paged_for(session, case.id)
    owed = [p for p in plan.overflow if p.id not in paged_already]
    paged = []
    if owed and case.status == "open":
        paged = queue_pages(session, aud, owed, "ring", now)
    record(
        session,
        case_id=case.id,
        type=EventType.CALL_RINGING,
        actor=SYSTEM,
        at=now,
        responders=[aud.names[p.id] for p in plan.ring],
        paged_instead=[aud.names[p.id] for p in plan.overflow],
        lead_involved=lead_involved,
    )
    if not plan.ring:
        return voicemail(aud.hotline, case, urls), bool(paged)
    answer = twiml.dial(
        caller_id=aud.hotline.number,
        numbers=[p.phone for p in plan.ring],
        screen_url=urls.screen,
        leg_status_url=urls.leg_status,
        action_url=urls.dial_result,
        intro=wording.call_ringing_alternates() if lead_involved else None,
    )
    return answer, bool(paged)


def rung_responder(session: Session, case: Case, phone: str) -> Responder | None:
    """The responder a screened leg reached (its `To`), if they may still hear about the
    case: an exclusion that landed while the phone rang wins."""
    responder = session.scalar(
        select(Responder).where(Responder.hotline_id == case.hotline_id, Responder.phone == phone)
    )
    if responder is None or not audience(session, case).may_hear(responder.id):
        return None
    return responder


def screen(session: Session, case_id: int, *, phone: str, base: str) -> Answer:
    """The answering responder hears the hotline and case number, and must press 1."""
    case = session.get(Case, case_id)
    responder = rung_responder(session, case, phone) if case else None
    if case is None or responder is None:
        log.warning("screening for case %s reached no eligible responder; hung up", case_id)
        return twiml.hang_up(), False
    # Their own case goes on to the screening; any other taken or closed case hangs up.
    mine = case.status == "acknowledged" and case.acknowledged_by_id == responder.id
    gone = None if mine else commands.not_takeable(session, case, responder)
    if gone:
        return twiml.hang_up(wording.spoken(gone)), False
    hotline = session.get_one(Hotline, case.hotline_id)
    text = wording.call_screen(hotline.name, case.id)
    return twiml.screen(text, CallUrls(base, case.id).screen_result), False


def screen_result(
    session: Session, case_id: int, *, phone: str, digits: str, now: datetime
) -> Answer:
    """1 takes the case exactly as `ACK` would and bridges the call; anything else, or
    nothing, is logged and hangs up this leg (the others keep ringing)."""
    case = locked_case(session, case_id)
    responder = rung_responder(session, case, phone) if case else None
    if case is None or responder is None:
        return twiml.hang_up(), False
    if digits != "1":
        return not_accepted(session, case, responder, now, digits)
    answer = commands.acknowledge(session, case, responder, now, via="voice")
    if case.status == "acknowledged" and case.acknowledged_by_id == responder.id:
        return twiml.say(wording.call_accepted(case.id)), True
    return twiml.hang_up(wording.spoken(answer)), False


def leg_ended(
    session: Session, case_id: int, *, phone: str, status: str, seconds: str | None, now: datetime
) -> Answer:
    """How each rung phone's leg ended (no-answer, busy, completed...), for the log."""
    case = session.get(Case, case_id)
    if case is None:
        return EMPTY_TWIML, False
    name = session.scalar(
        select(Responder.name).where(
            Responder.hotline_id == case.hotline_id, Responder.phone == phone
        )
    )
    record(
        session,
        case_id=case.id,
        type=EventType.CALL_LEG_ENDED,
        actor=SYSTEM,
        at=now,
        responder=name,
        status=status,
        seconds=seconds,
    )
    return EMPTY_TWIML, False


def dial_ended(session: Session, case_id: int, *, status: str, now: datetime, base: str) -> Answer:
    """After a conversation, goodbye; when nobody took the call, the caller may leave a
    voicemail (busy, no-answer, failed and canceled alike). Paging already runs by SMS."""
    case = locked_case(session, case_id)
    if case is None:
        return twiml.hang_up(), False
    record(
        session,
        case_id=case.id,
        type=EventType.CALL_DIAL_ENDED,
        actor=SYSTEM,
        at=now,
        status=status,
    )
    if status == "completed" and case.status != "open":
        return twiml.hang_up(wording.call_ended(case.id)), False
    hotline = session.get_one(Hotline, case.hotline_id)
    return voicemail(hotline, case, CallUrls(base, case.id)), False


def voicemail(hotline: Hotline, case: Case, urls: CallUrls) -> str:
    return twiml.voicemail(
        wording.call_voicemail(case.id, hotline.emergency_info),
        action_url=urls.recorded,
        recording_status_url=urls.recording_status,
        transcription_url=urls.transcription,
        after=wording.call_no_message(case.id),
    )


def attach_recording(
    session: Session,
    case: Case,
    *,
    url: str,
    recording_sid: str | None,
    seconds: str | None,
    now: datetime,
) -> bool:
    """Attach a voicemail to its case once, whichever of Twilio's two reports of it (the
    `<Record>` action, the recording status callback) comes first. The case row is locked
    by the caller, so the check and the insert cannot interleave. The Twilio URL is kept
    (encrypted) in `recording`; the case's message carries a marker that each reader gets
    as a link of their own (app.cases.recordings)."""
    # URLs are encrypted (app.privacy.types): recognise the recording by its SID.
    key = (recording_sid or url.rstrip("/").rsplit("/", 1)[-1])[:64]
    seen = session.scalar(
        select(Recording.id).where(Recording.case_id == case.id, Recording.sid == key)
    )
    if seen is not None:
        return False
    recording = Recording(
        case_id=case.id,
        sid=key,
        twilio_url=url,
        seconds=int(seconds) if seconds and seconds.isdigit() else None,
        at=now,
    )
    session.add(recording)
    session.flush()
    actor = reporter_actor(session, case.hotline_id, case.reporter_phone)
    intake.add_text(
        session, case, wording.voicemail_recording(marker(recording.id)), now, actor=actor
    )
    record(
        session,
        case_id=case.id,
        type=EventType.VOICEMAIL_RECORDED,
        actor=actor,
        at=now,
        recording_sid=recording_sid,
        seconds=seconds,
    )
    return True


def recorded(
    session: Session,
    case_id: int,
    *,
    url: str,
    recording_sid: str | None,
    seconds: str | None,
    now: datetime,
) -> Answer:
    """The `<Record>` action: the message is kept; thank the caller."""
    case = locked_case(session, case_id)
    if case is None:
        return twiml.hang_up(), False
    work = False
    if url:
        work = attach_recording(
            session, case, url=url, recording_sid=recording_sid, seconds=seconds, now=now
        )
    return twiml.hang_up(wording.call_voicemail_saved(case.id)), work


def recording_status(
    session: Session,
    case_id: int,
    *,
    status: str,
    url: str,
    recording_sid: str | None,
    seconds: str | None,
    now: datetime,
) -> Answer:
    """The recording status callback: it arrives even when the caller hung up mid-message,
    when Twilio may skip the `<Record>` action."""
    case = locked_case(session, case_id)
    if case is None:
        return EMPTY_TWIML, False
    if status == "completed" and url:
        work = attach_recording(
            session, case, url=url, recording_sid=recording_sid, seconds=seconds, now=now
        )
        return EMPTY_TWIML, work
    record(
        session,
        case_id=case.id,
        type=EventType.VOICEMAIL_MISSING,
        actor=SYSTEM,
        at=now,
        status=status,
        recording_sid=recording_sid,
    )
    return EMPTY_TWIML, False


def transcription(
    session: Session, case_id: int, *, status: str, text: str, now: datetime
) -> Answer:
    """A voicemail's words join the case as a text from the reporter would: names in them
    exclude those responders, emergency words page everyone, whoever was paged hears it."""
    case = locked_case(session, case_id)
    if case is None:
        return EMPTY_TWIML, False
    if status != "completed" or not text.strip():
        record(
            session,
            case_id=case.id,
            type=EventType.VOICEMAIL_TRANSCRIPTION_FAILED,
            actor=SYSTEM,
            at=now,
            status=status,
        )
        return EMPTY_TWIML, False
    body = wording.voicemail_transcription(text.strip())
    if case.status in OPEN_STATES:
        intake.append_report(session, case, body, now)
    else:
        actor = reporter_actor(session, case.hotline_id, case.reporter_phone)
        intake.add_text(session, case, body, now, actor=actor)
    return EMPTY_TWIML, True
