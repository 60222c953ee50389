"""POST /twilio/status: delivery reports for what the service sent, messages and calls.

They arrive late, twice and out of order, even before the dispatcher stored the SID; the
rules are in app.paging.delivery.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response

from app.paging import delivery
from app.paging.outbox import mark_new_work
from app.services import ServicesDep
from app.telephony import outage
from app.telephony.webhook import EMPTY_TWIML, SignedForm, twiml

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
        work = delivery.report(
            session,
            sid,
            status,
            svc.clock(),
            code=form.get("ErrorCode") or None,
            seconds=form.get("CallDuration"),
        )
        if work:
            mark_new_work(session)  # the workers wake when this commits
    return twiml(EMPTY_TWIML)


# While the database is unreachable a status callback is spooled and replayed later: a
# status only ever moves forward, so a replay that already landed changes nothing.
outage.register(
    "/twilio/status",
    answer=outage.empty_answer,
    replay=lambda svc, form, _q: status_callback(form, svc),
)
