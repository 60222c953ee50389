"""POST /twilio/status: delivery reports for what the service sent, messages and calls.

They arrive late, twice and out of order; a row's status only ever moves forward, and a
report that changes nothing logs nothing. A page that could not be delivered falls back:
an SMS page to a call, a call page to the next tier (app.voice.pages).
"""

from __future__ import annotations

import logging
from datetime import datetime

from fastapi import APIRouter, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.log import SYSTEM, record
from app.paging.models import Outbound
from app.paging.outbox import DELIVERY_FAILED, PROVIDER_ORDER
from app.paging.reachability import mark_reachable
from app.paging.worker import announce_work
from app.roster.models import Responder
from app.services import ServicesDep
from app.telephony import outage
from app.telephony.webhook import EMPTY_TWIML, SignedForm, twiml
from app.voice import pages

log = logging.getLogger(__name__)
router = APIRouter(tags=["twilio"])


@router.post("/twilio/status", response_class=Response, summary="Status callback (Twilio)")
def status_callback(form: SignedForm, svc: ServicesDep) -> Response:
    sid = form.get("MessageSid") or form.get("CallSid") or ""
    status = (form.get("MessageStatus") or form.get("CallStatus") or "").strip().lower()
    if not sid or not status:
        log.info("status callback without a sid or status ignored")
        return twiml(EMPTY_TWIML)
    with svc.sessions() as session, session.begin():
        row = session.scalar(select(Outbound).where(Outbound.provider_sid == sid).with_for_update())
        if row is None:
            log.info("status callback for unknown sid %s", sid)
            return twiml(EMPTY_TWIML)
        now = svc.clock()
        code = form.get("ErrorCode") or None
        if row.kind == pages.CALL_PAGE:
            work = pages.call_progress(
                session, row, status, now, code=code, seconds=form.get("CallDuration")
            )
        else:
            work = _message_progress(session, row, status, code, now)
        if work:
            announce_work(session)
    if work:
        svc.wakeup.set()
    return twiml(EMPTY_TWIML)


# While the database is unreachable a status callback is spooled and replayed later: a
# status only ever moves forward, so a replay that already landed changes nothing.
outage.register(
    "/twilio/status",
    answer=outage.empty_answer,
    replay=lambda svc, form, _q: status_callback(form, svc),
)


def _message_progress(
    session: Session, row: Outbound, status: str, code: str | None, now: datetime
) -> bool:
    """Move a message forward and log it; returns whether a fallback call was queued."""
    if status not in PROVIDER_ORDER or PROVIDER_ORDER[status] <= PROVIDER_ORDER.get(row.status, 0):
        return False  # unknown, late or repeated: never roll back
    row.status = status
    prefix = "page" if row.kind == "page" else "message"
    if status == "delivered":
        if row.responder_id is not None:
            responder = session.get_one(Responder, row.responder_id)
            mark_reachable(session, responder, now, why="an SMS was delivered")
        record(
            session,
            case_id=row.case_id,
            type=f"{prefix}_delivered",
            actor=SYSTEM,
            at=now,
            outbound_id=row.id,
            sid=row.provider_sid,
        )
    elif status in DELIVERY_FAILED:
        row.error = f"{status} (code {code})" if code else status
        record(
            session,
            case_id=row.case_id,
            type=f"{prefix}_failed",
            actor=SYSTEM,
            at=now,
            outbound_id=row.id,
            sid=row.provider_sid,
            status=status,
            code=code,
        )
        return pages.call_instead(session, row, now)
    return False
