"""/api/oncall (who a report would page now, tier by tier) and each hotline's shifts.ics."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi import Path as PathParam
from pydantic import BaseModel

from app.api import errors
from app.auth.access import CALENDAR
from app.auth.deps import CallerDep
from app.auth.tokens import find_token
from app.paging import oncall
from app.roster.models import Hotline
from app.services import ServicesDep

router = APIRouter(tags=["on call"])
E164 = r"^\+[1-9][0-9]{1,14}$"


class TierOut(BaseModel):
    tier: int
    notify: str
    after_minutes: float
    at: datetime
    responders: list[str]
    note: str | None


class OnCallOut(BaseModel):
    hotline: str
    name: str
    timezone: str
    at: datetime
    tiers: list[TierOut]
    next_change: datetime | None
    next_on_call: list[str]


@router.get(
    "/api/oncall",
    response_model=list[OnCallOut],
    responses=errors(400, 401, 403, 404),
    summary="Who a report would page at each tier, now or at a given time",
)
def on_call(
    svc: ServicesDep,
    caller: CallerDep,
    hotline: Annotated[str | None, Query(pattern=E164, description="Only this hotline")] = None,
    at: Annotated[
        datetime | None,
        Query(
            description="ISO 8601 time, years 1900 to 2999; without an offset, the hotline's"
            " local time (default: now)"
        ),
    ] = None,
) -> list[OnCallOut]:
    now = svc.clock()
    with svc.sessions() as session:
        hotlines = oncall.hotlines_for(session, hotline)
        if hotline is not None and not hotlines:
            raise HTTPException(404, "no such hotline")
        out = []
        for h in hotlines:
            when = oncall.localize(at, h.timezone, now)
            if not 1900 <= when.year <= 2999:
                raise HTTPException(400, "at: a time between the years 1900 and 2999")
            entry = oncall.on_call(session, h, when)
            out.append(
                OnCallOut(
                    hotline=entry.number,
                    name=entry.name,
                    timezone=entry.timezone,
                    at=entry.at,
                    tiers=[
                        TierOut(
                            tier=t.tier,
                            notify=t.notify,
                            after_minutes=t.after_minutes,
                            at=t.at,
                            responders=list(t.responders),
                            note=t.note,
                        )
                        for t in entry.tiers
                    ],
                    next_change=entry.next_change,
                    next_on_call=list(entry.next_on_call),
                )
            )
        return out


@router.get(
    "/api/hotlines/{number}/shifts.ics",
    response_class=Response,
    responses={
        200: {"content": {"text/calendar": {}}, "description": "The shifts, iCalendar"},
        **errors(401, 404),
    },
    summary="The hotline's shifts as a calendar feed (a calendar token in the URL)",
)
def shifts_ics(
    svc: ServicesDep,
    number: Annotated[str, PathParam(pattern=E164)],
    token: Annotated[str, Query(description="A token made with --role calendar --hotline")],
) -> Response:
    """The token reads this feed and nothing else; any other token, or one for another
    hotline, gets 401 here (and a calendar token gets 403 from every other route)."""
    with svc.sessions() as session:
        row = find_token(session, token)
        if row is None or row.role != CALENDAR or row.hotline_number != number:
            raise HTTPException(401, "not a calendar token for this hotline")
        hotline = session.query(Hotline).filter(Hotline.number == number).one_or_none()
        if hotline is None:
            raise HTTPException(404, "no such hotline")
        body = oncall.shifts_ics(session, hotline, svc.clock())
    return Response(
        content=body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": 'inline; filename="shifts.ics"'},
    )
