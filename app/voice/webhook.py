"""POST /twilio/voice and the later steps of a call: thin, signed, answered once per SID.

Every step is checked like the SMS webhook (`SignedForm`) and runs through `once`, keyed by
Twilio's SID and the step's name: the same call reaches several steps with one CallSid, and
a retried step must answer as the first time without acting twice.

While the database is unreachable (app.telephony.outage) an inbound call is spooled, told
that it is received with the hotline's emergency information, and hung up: its case opens
and pages when the spool is replayed. `/twilio/voice/fallback` (Twilio's "primary handler
fails" URL) does the same without trying the database. Voicemail and leg callbacks are
spooled and replayed too; the live steps of a call (choice, ringing, screening, voice
pages) are answered with an apology and hang up, and not replayed: after the call they
would describe ringing that never happened.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.orm import Session

from app import wording
from app.drills import service as drills
from app.paging.urls import drill_choice_url
from app.services import Services, ServicesDep
from app.telephony import outage
from app.telephony import twiml as vtwiml
from app.telephony.webhook import SignedForm, once, required, twiml
from app.voice import calls, pages

router = APIRouter(tags=["twilio"])
CaseNumber = Annotated[int, Query(description="the case number")]


@router.post("/twilio/voice", response_class=Response, summary="Inbound call (Twilio webhook)")
def inbound_call(form: SignedForm, svc: ServicesDep) -> Response:
    call_sid, caller, to = required(form, "CallSid", "From", "To")

    def handle(session: Session) -> tuple[str, bool]:
        return calls.answer_call(
            session,
            to=to,
            caller=caller,
            call_sid=call_sid,
            now=svc.clock(),
            base=svc.settings.public_url,
        )

    return twiml(once(svc, call_sid, "voice", handle))


@router.post(
    "/twilio/voice/fallback",
    response_class=Response,
    summary="Inbound call, Twilio's fallback URL: kept and answered without the database",
)
async def inbound_call_fallback(request: Request, form: SignedForm) -> Response:
    required(form, "CallSid", "From", "To")
    return await outage.answer_without_database(request)


@router.post("/twilio/voice/choice", response_class=Response, summary="Greeting answered")
def choice(
    form: SignedForm,
    svc: ServicesDep,
    case: CaseNumber,
    joined: Annotated[int, Query(description="1: the call joins the caller's open case")] = 0,
) -> Response:
    (call_sid,) = required(form, "CallSid")
    lead_involved = form.get("Digits", "").strip() == "2"

    def handle(session: Session) -> tuple[str, bool]:
        return calls.choose(
            session,
            case,
            joined=bool(joined),
            lead_involved=lead_involved,
            call_sid=call_sid,
            now=svc.clock(),
            base=svc.settings.public_url,
        )

    return twiml(once(svc, f"{call_sid}:choice", "voice-choice", handle))


@router.post("/twilio/voice/screen", response_class=Response, summary="Rung responder answered")
def screen(form: SignedForm, svc: ServicesDep, case: CaseNumber) -> Response:
    leg_sid, phone = required(form, "CallSid", "To")

    def handle(session: Session) -> tuple[str, bool]:
        return calls.screen(session, case, phone=phone, base=svc.settings.public_url)

    return twiml(once(svc, f"{leg_sid}:screen", "voice-screen", handle))


@router.post("/twilio/voice/screen-result", response_class=Response, summary="Screening answer")
def screen_result(form: SignedForm, svc: ServicesDep, case: CaseNumber) -> Response:
    leg_sid, phone = required(form, "CallSid", "To")
    digits = form.get("Digits", "").strip()

    def handle(session: Session) -> tuple[str, bool]:
        return calls.screen_result(session, case, phone=phone, digits=digits, now=svc.clock())

    return twiml(once(svc, f"{leg_sid}:accept", "voice-accept", handle))


@router.post("/twilio/voice/leg", response_class=Response, summary="Rung leg status (Twilio)")
def leg_status(form: SignedForm, svc: ServicesDep, case: CaseNumber) -> Response:
    leg_sid, phone, status = required(form, "CallSid", "To", "CallStatus")

    def handle(session: Session) -> tuple[str, bool]:
        return calls.leg_ended(
            session,
            case,
            phone=phone,
            status=status,
            seconds=form.get("CallDuration"),
            now=svc.clock(),
        )

    return twiml(once(svc, f"{leg_sid}:leg:{status}", "voice-leg", handle))


@router.post("/twilio/voice/dial-result", response_class=Response, summary="Ringing ended")
def dial_result(form: SignedForm, svc: ServicesDep, case: CaseNumber) -> Response:
    call_sid, status = required(form, "CallSid", "DialCallStatus")

    def handle(session: Session) -> tuple[str, bool]:
        return calls.dial_ended(
            session, case, status=status, now=svc.clock(), base=svc.settings.public_url
        )

    return twiml(once(svc, f"{call_sid}:dial", "voice-dial", handle))


@router.post("/twilio/voice/recorded", response_class=Response, summary="Voicemail recorded")
def recorded(form: SignedForm, svc: ServicesDep, case: CaseNumber) -> Response:
    (call_sid,) = required(form, "CallSid")

    def handle(session: Session) -> tuple[str, bool]:
        return calls.recorded(
            session,
            case,
            url=form.get("RecordingUrl", "").strip(),
            recording_sid=form.get("RecordingSid"),
            seconds=form.get("RecordingDuration"),
            now=svc.clock(),
        )

    return twiml(once(svc, f"{call_sid}:recorded", "voice-recorded", handle))


@router.post("/twilio/voice/recording", response_class=Response, summary="Recording status")
def recording_status(form: SignedForm, svc: ServicesDep, case: CaseNumber) -> Response:
    (call_sid,) = required(form, "CallSid")
    status = form.get("RecordingStatus", "").strip().lower()
    recording_sid = form.get("RecordingSid") or call_sid

    def handle(session: Session) -> tuple[str, bool]:
        return calls.recording_status(
            session,
            case,
            status=status,
            url=form.get("RecordingUrl", "").strip(),
            recording_sid=form.get("RecordingSid"),
            seconds=form.get("RecordingDuration"),
            now=svc.clock(),
        )

    return twiml(once(svc, f"{recording_sid}:recording:{status}", "voice-recording", handle))


@router.post("/twilio/voice/transcription", response_class=Response, summary="Voicemail text")
def transcription(form: SignedForm, svc: ServicesDep, case: CaseNumber) -> Response:
    (call_sid,) = required(form, "CallSid")
    key = form.get("TranscriptionSid") or form.get("RecordingSid") or call_sid

    def handle(session: Session) -> tuple[str, bool]:
        return calls.transcription(
            session,
            case,
            status=form.get("TranscriptionStatus", "").strip().lower(),
            text=form.get("TranscriptionText", ""),
            now=svc.clock(),
        )

    return twiml(once(svc, f"{key}:transcription", "voice-transcript", handle))


@router.post("/twilio/voice/page/{outbound_id}", response_class=Response, summary="Voice page")
def page_call(form: SignedForm, svc: ServicesDep, outbound_id: int) -> Response:
    (call_sid,) = required(form, "CallSid")

    def handle(session: Session) -> tuple[str, bool]:
        return pages.page_call(
            session,
            outbound_id,
            base=svc.settings.public_url,
            link_secret=svc.settings.twilio_auth_token or "",
            now=svc.clock(),
        )

    return twiml(once(svc, f"{call_sid}:page", "voice-page", handle))


@router.post(
    "/twilio/voice/page/{outbound_id}/listen",
    response_class=Response,
    summary="Voice page: 1 to hear it",
)
def page_listen(form: SignedForm, svc: ServicesDep, outbound_id: int) -> Response:
    (call_sid,) = required(form, "CallSid")
    digits = form.get("Digits", "").strip()

    def handle(session: Session) -> tuple[str, bool]:
        return pages.page_listen(
            session,
            outbound_id,
            digits=digits,
            now=svc.clock(),
            base=svc.settings.public_url,
            link_secret=svc.settings.twilio_auth_token or "",
        )

    return twiml(once(svc, f"{call_sid}:page-listen", "voice-page-listen", handle))


@router.post(
    "/twilio/voice/page/{outbound_id}/choice", response_class=Response, summary="Voice page answer"
)
def page_choice(form: SignedForm, svc: ServicesDep, outbound_id: int) -> Response:
    (call_sid,) = required(form, "CallSid")
    digits = form.get("Digits", "").strip()

    def handle(session: Session) -> tuple[str, bool]:
        return pages.page_choice(session, outbound_id, digits=digits, now=svc.clock())

    return twiml(once(svc, f"{call_sid}:page-choice", "voice-page-choice", handle))


@router.post("/twilio/voice/drill/{outbound_id}", response_class=Response, summary="Test call")
def drill_call(form: SignedForm, svc: ServicesDep, outbound_id: int) -> Response:
    (call_sid,) = required(form, "CallSid")

    def handle(session: Session) -> tuple[str, bool]:
        found = drills.call_check(session, outbound_id)
        if found is None:
            return vtwiml.hang_up(), False
        _, hotline = found
        choice = drill_choice_url(svc.settings.public_url, outbound_id)
        return vtwiml.page(wording.drill_call(hotline.name), choice), False

    return twiml(once(svc, f"{call_sid}:drill", "voice-drill", handle))


@router.post(
    "/twilio/voice/drill/{outbound_id}/choice", response_class=Response, summary="Test call answer"
)
def drill_choice(form: SignedForm, svc: ServicesDep, outbound_id: int) -> Response:
    (call_sid,) = required(form, "CallSid")
    digits = form.get("Digits", "").strip()

    def handle(session: Session) -> tuple[str, bool]:
        if drills.answer_call(session, outbound_id, digits, svc.clock()):
            return vtwiml.hang_up(wording.drill_call_confirmed()), False
        return vtwiml.hang_up(wording.call_not_accepted()), False

    return twiml(once(svc, f"{call_sid}:drill-choice", "voice-drill-choice", handle))


# --- while the database is unreachable (app.telephony.outage) ---------------------------


def _case(query: dict[str, str]) -> int:
    return int(query["case"])


def _register() -> None:
    def call(svc: Services, form: dict[str, str], _q: dict[str, str]) -> object:
        return inbound_call(form, svc)

    for path in ("/twilio/voice", "/twilio/voice/fallback"):
        outage.register(path, answer=outage.call_answer, replay=call)
    # The caller's leg, a case already open and paging: told so, then hung up.
    for path in ("/twilio/voice/choice", "/twilio/voice/dial-result"):
        outage.register(path, answer=outage.call_answer)
    # A responder's leg or a voice page: nobody can be connected now.
    for path in (
        "/twilio/voice/screen",
        "/twilio/voice/screen-result",
        "/twilio/voice/page/{outbound_id}",
        "/twilio/voice/page/{outbound_id}/listen",
        "/twilio/voice/page/{outbound_id}/choice",
        "/twilio/voice/drill/{outbound_id}",
        "/twilio/voice/drill/{outbound_id}/choice",
    ):
        outage.register(path, answer=outage.call_step_answer)
    outage.register(
        "/twilio/voice/recorded",
        answer=outage.call_answer,
        replay=lambda svc, form, q: recorded(form, svc, _case(q)),
    )
    outage.register(
        "/twilio/voice/recording",
        answer=outage.empty_answer,
        replay=lambda svc, form, q: recording_status(form, svc, _case(q)),
    )
    outage.register(
        "/twilio/voice/transcription",
        answer=outage.empty_answer,
        replay=lambda svc, form, q: transcription(form, svc, _case(q)),
    )
    outage.register(
        "/twilio/voice/leg",
        answer=outage.empty_answer,
        replay=lambda svc, form, q: leg_status(form, svc, _case(q)),
    )


_register()
