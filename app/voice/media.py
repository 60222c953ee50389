"""GET /recordings/{token}: a voicemail, streamed through the service to whoever holds a
link of their own (app.cases.recordings). The link's signature, its bearer's right to hear
about the case now (the case's audience rule; for an API token, what the API lets it see)
and its expiry are all checked before Twilio is asked for the recording."""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.access import Caller
from app.auth.models import ApiToken
from app.cases import recordings
from app.cases.models import Case, Recording
from app.cases.recordings import Bearer
from app.casework import queries
from app.paging.engine import audience
from app.roster.models import Responder
from app.services import ServicesDep
from app.telephony.transport import SendError

log = logging.getLogger(__name__)
router = APIRouter(tags=["recordings"])
NOT_FOUND = "no such recording"


def may_follow(session: Session, bearer: Bearer, case: Case) -> bool:
    """Whether the link's holder may hear this case's voicemail now: an exclusion (or a
    deactivation, or a revoked token) since the link was made refuses it."""
    if bearer.kind == "r":
        return audience(session, case).may_hear(bearer.id)
    token = session.get(ApiToken, bearer.id)
    if token is None or token.revoked_at is not None:
        return False
    ids: frozenset[int] = frozenset()
    if token.responder_phone:
        ids = frozenset(
            session.scalars(select(Responder.id).where(Responder.phone == token.responder_phone))
        )
    caller = Caller(token_id=token.id, name=token.name, role=token.role, responder_ids=ids)
    return queries.visible_case(session, caller, case.id) is not None


def media_url(twilio_url: str) -> str:
    """Twilio serves a recording as MP3 when asked by extension (WAV otherwise)."""
    last = twilio_url.rsplit("/", 1)[-1]
    return twilio_url if "." in last else twilio_url + ".mp3"


@router.get(
    recordings.LINK_PATH + "/{token}",
    summary="A voicemail, through a short-lived link bound to one responder or API token",
    responses={404: {"description": "no such recording"}, 410: {"description": "expired"}},
)
def recording(token: str, svc: ServicesDep) -> StreamingResponse:
    grant = recordings.verify(svc.settings.twilio_auth_token or "", token)
    if grant is None:
        raise HTTPException(404, NOT_FOUND)
    with svc.sessions() as session:
        row = session.get(Recording, grant.recording_id)
        case = session.get(Case, row.case_id) if row else None
        if row is None or case is None or not row.twilio_url:  # erased by retention
            raise HTTPException(404, NOT_FOUND)
        if not may_follow(session, grant.bearer, case):
            raise HTTPException(404, NOT_FOUND)
        url = row.twilio_url
    if grant.expires <= svc.clock():
        raise HTTPException(410, "this link has expired: ask for a new one")
    stream = getattr(svc.transport, "stream_media", None)
    if stream is None:
        raise HTTPException(502, "recordings cannot be fetched with this transport")
    try:
        media_type, chunks = stream(media_url(url))
    except SendError as error:
        log.warning("recording %s not fetched: %s", grant.recording_id, error.reason)
        raise HTTPException(502, "the recording could not be fetched from Twilio") from None
    return StreamingResponse(
        chunks, media_type=media_type, headers={"Cache-Control": "private, no-store"}
    )
