"""/api/drills: start a drill (admin) and read its table (admin, chair)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from app.api import MAX_ID, errors
from app.auth.access import ADMIN, READ_ALL
from app.auth.deps import CallerDep
from app.db import transaction
from app.drills import service
from app.drills.models import Drill
from app.roster.models import Hotline
from app.services import ServicesDep

router = APIRouter(prefix="/api/drills", tags=["drills"])
E164 = r"^\+[1-9][0-9]{1,14}$"


class DrillIn(BaseModel):
    hotline: str | None = Field(
        None, pattern=E164, description="The hotline's number; may be left out when there is one"
    )
    voice: bool = Field(False, description="Also call each responder: press 1 to confirm")
    minutes: float = Field(
        service.DEFAULT_MINUTES, gt=0, le=7 * 24 * 60, description="How long to wait for answers"
    )


class CheckOut(BaseModel):
    responder: str
    role: str
    result: str = Field(description="answered, text failed, call failed, no answer or waiting")
    answered_at: datetime | None
    answered_via: str | None
    late: bool
    text_status: str | None
    call_status: str | None
    error_code: str | None = Field(description="Twilio's error code for a failed text or call")
    error: str | None
    number_verified: bool = Field(
        description="their current number has answered a drill or verification text"
    )


class DrillOut(BaseModel):
    id: int
    hotline: str
    kind: str
    code: str
    voice: bool
    started_at: datetime
    deadline_at: datetime
    started_by: str
    responders: list[CheckOut]
    counts: dict[str, int]


def _out(session: Session, drill: Drill, now: datetime) -> DrillOut:
    hotline = session.get_one(Hotline, drill.hotline_id)
    states = service.table(session, drill, now)
    counts: dict[str, int] = {}
    for s in states:
        counts[s.result] = counts.get(s.result, 0) + 1
    return DrillOut(
        id=drill.id,
        hotline=hotline.number,
        kind=drill.kind,
        code=drill.code,
        voice=drill.voice,
        started_at=drill.started_at,
        deadline_at=drill.deadline_at,
        started_by=drill.started_by,
        responders=[
            CheckOut(
                responder=s.name,
                role=s.role,
                result=s.result,
                answered_at=s.answered_at,
                answered_via=s.answered_via,
                late=s.late,
                text_status=s.text_status,
                call_status=s.call_status,
                error_code=s.error_code,
                error=s.error,
                number_verified=s.verified,
            )
            for s in states
        ],
        counts=counts,
    )


@router.post(
    "",
    response_model=DrillOut,
    status_code=201,
    responses=errors(400, 401, 403),
    summary="Send every active responder of a hotline a test page (admin)",
)
def start(body: DrillIn, svc: ServicesDep, caller: CallerDep) -> DrillOut:
    if caller.role != ADMIN:
        raise HTTPException(403, f"a {caller.role} token may not start a drill")
    now = svc.clock()
    try:
        with transaction(svc.sessions) as session:
            hotline = service.hotline_for(session, body.hotline)
            drill = service.start_drill(
                session, hotline, voice=body.voice, minutes=body.minutes, now=now, by=caller.actor
            )
            out = _out(session, drill, now)
    except service.DrillError as error:
        raise HTTPException(400, str(error)) from None
    return out


@router.get(
    "/{drill_id}",
    response_model=DrillOut,
    responses=errors(401, 403, 404),
    summary="Who answered a drill, whose text failed, who said nothing",
)
def read(
    drill_id: Annotated[int, Path(ge=1, le=MAX_ID)], svc: ServicesDep, caller: CallerDep
) -> DrillOut:
    if caller.role not in READ_ALL:
        raise HTTPException(403, f"a {caller.role} token may not read drills")
    with svc.sessions() as session:
        drill = session.get(Drill, drill_id)
        if drill is None:
            raise HTTPException(404, "no such drill")
        return _out(session, drill, svc.clock())
