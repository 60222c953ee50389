"""POST /twilio/sms: an inbound text, routed by the hotline number it was sent to."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.twiml.messaging_response import MessagingResponse

from app.roster.cache import roster_of
from app.roster.models import Hotline, Responder
from app.services import ServicesDep
from app.sms.inbound import from_reporter, from_responder
from app.telephony.webhook import EMPTY_TWIML, SignedForm, answer_once, required, twiml

log = logging.getLogger(__name__)
router = APIRouter(tags=["twilio"])


@router.post("/twilio/sms", response_class=Response, summary="Inbound SMS (Twilio webhook)")
async def inbound_sms(form: SignedForm, svc: ServicesDep) -> Response:
    sid, sender, to = required(form, "MessageSid", "From", "To")
    body = form.get("Body", "")

    def handle(session: Session) -> tuple[str, bool]:
        now = svc.clock()
        hotline = session.scalar(select(Hotline).where(Hotline.number == to, Hotline.active))
        if hotline is None:
            log.warning("SMS %s to %s, which is no hotline; ignored", sid, to)
            return EMPTY_TWIML, False
        responder_id = roster_of(session, hotline).responder_id(sender)
        if responder_id is None:
            answer = from_reporter(session, hotline, sender, body, now)
        else:
            responder = session.get_one(Responder, responder_id)
            answer = from_responder(session, hotline, responder, body, now)
        if answer is None:
            return EMPTY_TWIML, False
        reply = MessagingResponse()
        reply.message(answer)
        return str(reply), False

    return twiml(await answer_once(svc, sid, "sms", handle))
