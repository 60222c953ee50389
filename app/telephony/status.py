"""POST /twilio/status: delivery reports for what the service sent.

They arrive late, twice and out of order; a row's status only ever moves forward, and a
report that changes nothing logs nothing.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response
from sqlalchemy import select

from app.audit.log import SYSTEM, record
from app.paging.models import Outbound
from app.paging.outbox import DELIVERY_FAILED, PROVIDER_ORDER
from app.services import ServicesDep
from app.telephony.webhook import EMPTY_TWIML, SignedForm, twiml

log = logging.getLogger(__name__)
router = APIRouter(tags=["twilio"])


@router.post("/twilio/status", response_class=Response, summary="Status callback (Twilio)")
def status_callback(form: SignedForm, svc: ServicesDep) -> Response:
    sid = form.get("MessageSid") or form.get("CallSid") or ""
    status = (form.get("MessageStatus") or form.get("CallStatus") or "").strip().lower()
    if not sid or status not in PROVIDER_ORDER:
        log.info("status callback without a known status ignored")
        return twiml(EMPTY_TWIML)
    with svc.sessions() as session, session.begin():
        row = session.scalar(select(Outbound).where(Outbound.provider_sid == sid).with_for_update())
        if row is None:
            log.info("status callback for unknown sid %s", sid)
            return twiml(EMPTY_TWIML)
        if PROVIDER_ORDER[status] <= PROVIDER_ORDER.get(row.status, 0):
            return twiml(EMPTY_TWIML)  # late or repeated: never roll back
        row.status = status
        prefix = "page" if row.kind == "page" else "message"
        code = form.get("ErrorCode") or None
        if status == "delivered":
            record(
                session,
                case_id=row.case_id,
                type=f"{prefix}_delivered",
                actor=SYSTEM,
                at=svc.clock(),
                outbound_id=row.id,
                sid=sid,
            )
        elif status in DELIVERY_FAILED:
            row.error = f"{status} (code {code})" if code else status
            record(
                session,
                case_id=row.case_id,
                type=f"{prefix}_failed",
                actor=SYSTEM,
                at=svc.clock(),
                outbound_id=row.id,
                sid=sid,
                status=status,
                code=code,
            )
    return twiml(EMPTY_TWIML)
