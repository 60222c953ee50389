"""What every /twilio/... endpoint shares: the signature check, idempotency by SID, TwiML."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.services import Services, from_request
from app.telephony.models import WebhookReceipt
from app.telephony.signature import SIGNATURE_HEADER, is_valid

TWIML = "application/xml"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'


async def signed_form(request: Request) -> dict[str, str]:
    """The webhook's form, once its X-Twilio-Signature proves it came from Twilio.

    The URL checked is the configured public URL plus path and query, which is what Twilio
    signed even when a proxy in front changed scheme, host or port.
    """
    settings = from_request(request).settings
    if not settings.twilio_auth_token:
        raise HTTPException(503, "TWILIO_AUTH_TOKEN is not set: webhooks cannot be verified")
    try:
        form = await request.form()
    except Exception as exc:
        raise HTTPException(400, "the body is not a form") from exc
    url = settings.public_url + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    if not is_valid(settings.twilio_auth_token, url, form, request.headers.get(SIGNATURE_HEADER)):
        raise HTTPException(403, "invalid or missing X-Twilio-Signature")
    return {key: value for key, value in form.items() if isinstance(value, str)}


SignedForm = Annotated[dict[str, str], Depends(signed_form)]


def required(form: dict[str, str], *names: str) -> list[str]:
    missing = [n for n in names if not form.get(n, "").strip()]
    if missing:
        raise HTTPException(400, f"missing form field(s): {', '.join(missing)}")
    return [form[n].strip() for n in names]


def twiml(xml: str) -> Response:
    return Response(content=xml, media_type=TWIML)


def once(svc: Services, sid: str, kind: str, handle: Callable[[Session], tuple[str, bool]]) -> str:
    """Run `handle` at most once per Twilio SID and answer a retry as the first time.

    `handle` returns the TwiML answer and whether it created work for the worker. The receipt
    is written in the same transaction as everything `handle` does: both or neither.
    """
    from app.paging.worker import announce_work

    try:
        with svc.sessions() as session, session.begin():
            seen = session.get(WebhookReceipt, sid)
            if seen is not None:
                return seen.answer
            answer, work = handle(session)
            session.add(WebhookReceipt(sid=sid, kind=kind, received_at=svc.clock(), answer=answer))
            if work:
                announce_work(session)
    except IntegrityError:
        # The same SID committed first on a concurrent request: answer as it did.
        with svc.sessions() as session:
            seen = session.get(WebhookReceipt, sid)
            if seen is None:
                raise
            return seen.answer
    if work:
        svc.wakeup.set()
    return answer
