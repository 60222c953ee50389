"""POST /twilio/sms: an inbound text, routed by the hotline number it was sent to.

While the database is unreachable the text is spooled and answered from memory
(app.telephony.outage); `/twilio/sms/fallback`, Twilio's "primary handler fails" URL, does
that without trying the database. Both replay through `_handler`, like the webhook itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.casework.new_report import NewReport
from app.drills import service as drills
from app.paging.models import Outbound
from app.roster.cache import hotlines_by_number, roster_of
from app.roster.models import Hotline, Responder
from app.services import Services, from_request
from app.sms.inbound import from_reporter, from_responder, reports_received
from app.telephony import outage
from app.telephony.twiml import message
from app.telephony.webhook import (
    EMPTY_TWIML,
    Handler,
    SignedForm,
    answer_once,
    once,
    required,
    signed_form,
    twiml,
)
from app.wording import fit_sms

log = logging.getLogger(__name__)
router = APIRouter(tags=["twilio"])

SMS = "/twilio/sms"
SMS_FALLBACK = "/twilio/sms/fallback"


def _handler(svc: Services, form: dict[str, str]) -> tuple[str, Handler]:
    """The text's SID and what it does, run in the webhook's one transaction."""
    sid, sender, to = required(form, "MessageSid", "From", "To")
    body = form.get("Body", "")
    limit = svc.settings.max_new_cases_per_minute
    service_sid = svc.settings.twilio_messaging_service_sid
    via_pool = bool(service_sid) and form.get("MessagingServiceSid") == service_sid

    def handle(session: Session) -> tuple[str, bool]:
        now = svc.clock()
        # A deactivated hotline still answers: its reports page its alternates.
        hotline = session.scalar(select(Hotline).where(Hotline.number == to))
        if hotline is None and via_pool:
            hotline = _pool_reply_hotline(session, sender)
        if hotline is None:
            log.warning("SMS %s to %s, which is no hotline; ignored", sid, to)
            return EMPTY_TWIML, False
        responder_id = roster_of(session, hotline).responder_id(sender)
        if responder_id is None:
            answer = from_reporter(session, hotline, sender, body, now, new_limit=limit)
        else:
            responder = session.get_one(Responder, responder_id)
            # An answer to a drill is caught first: never a command, never a report.
            answer = drills.answer_text(session, responder, body, now)
            if answer is None:
                answer = from_responder(session, hotline, responder, body, now, new_limit=limit)
        return _twiml(answer), False

    return sid, handle


def _twiml(answer: str | None) -> str:
    if answer is None:
        return EMPTY_TWIML
    return message(fit_sms(answer))


@dataclass(frozen=True, slots=True)
class _Text:
    """What the batch reads of a text's form."""

    sender: str
    to: str
    body: str


def _reports(svc: Services, session: Session, texts: list[_Text]) -> list[tuple[str, bool] | None]:
    """The texts that arrived together and are reporters' first texts, opening their cases
    together (app.sms.inbound.reports_received); None for every other text, which `_handler`
    then handles: to no hotline (or a reply through the Messaging Service's pool), from a
    responder, or a sender's later text (it follows their first)."""
    now = svc.clock()
    hotlines = hotlines_by_number(session, {text.to for text in texts})
    reports: list[tuple[int, NewReport]] = []
    senders: set[str] = set()
    for at, text in enumerate(texts):
        hotline = hotlines.get(text.to)
        if (
            text.sender not in senders
            and hotline is not None
            and roster_of(session, hotline).responder_id(text.sender) is None
        ):
            reports.append((at, NewReport(hotline, text.sender, text.body, now)))
        senders.add(text.sender)
    results: list[tuple[str, bool] | None] = [None] * len(texts)
    answers = reports_received(session, [report for _, report in reports])
    for (at, _), answer in zip(reports, answers, strict=True):
        if answer is not None:
            results[at] = (_twiml(answer), False)
    return results


def _pool_reply_hotline(session: Session, sender: str) -> Hotline | None:
    """A responder answering a page that came from another number of the Messaging
    Service's pool: the hotline whose page they most recently got (they may serve several)."""
    return session.scalar(
        select(Hotline)
        .join(Responder, Responder.hotline_id == Hotline.id)
        .join(Outbound, Outbound.responder_id == Responder.id)
        .where(Responder.phone == sender, Responder.active, Hotline.active)
        .order_by(Outbound.id.desc())
        .limit(1)
    )


@router.post(SMS, response_class=Response, summary="Inbound SMS (Twilio webhook)")
async def inbound_sms(request: Request) -> Response:
    # The signed form and the services are taken here, not declared as dependencies: solving
    # them took about a quarter of the event loop's CPU on this route (ADR 0014). Neither has
    # a parameter in the OpenAPI document, so the route's description is the same.
    svc = await from_request(request)
    form = await signed_form(request)
    sid, handle = _handler(svc, form)
    text = _Text(form["From"].strip(), form["To"].strip(), form.get("Body", ""))
    return twiml(await answer_once(svc, sid, "sms", handle, (_reports, text)))


@router.post(
    SMS_FALLBACK,
    response_class=Response,
    summary="Inbound SMS, Twilio's fallback URL: kept and answered without the database",
)
async def inbound_sms_fallback(request: Request, form: SignedForm) -> Response:
    required(form, "MessageSid", "From", "To")
    return await outage.answer_without_database(request)


def _replay(svc: Services, form: dict[str, str], _query: dict[str, str]) -> None:
    sid, handle = _handler(svc, form)
    once(svc, sid, "sms", handle)


for _path in (SMS, SMS_FALLBACK):
    outage.register(_path, answer=outage.sms_answer, replay=_replay)
