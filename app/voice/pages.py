"""Voice pages: what a call page says and hears (its TwiML). Twilio fetches it from
/twilio/voice/page/{id}; when a page becomes a call, and what a call that nobody takes
does, are the fallback rules in app.paging.fallback.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app import wording
from app.cases import recordings
from app.cases.models import Case
from app.casework import commands
from app.paging.engine import audience
from app.paging.models import Outbound
from app.paging.outbox import CALL_PAGE
from app.paging.urls import page_choice_url, page_listen_url
from app.roster.models import Hotline, Responder
from app.telephony import twiml
from app.voice.calls import Answer, locked_case, not_accepted


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
    gone = commands.not_takeable(session, case, responder)
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
    gone = commands.not_takeable(session, case, responder)
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
    answer = commands.acknowledge(session, case, responder, now, via="voice")
    if case.status == "acknowledged" and case.acknowledged_by_id == responder.id:
        return twiml.hang_up(wording.call_page_taken(case.id)), True
    return twiml.hang_up(wording.spoken(answer)), False
