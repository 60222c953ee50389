"""/api/events and a case's log: read, export as CSV, verify the hash chain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import StreamingResponse

from app.api import decode_cursor, errors, utc
from app.audit.schemas import BrokenLink, ChainReport, EventOut, EventPage
from app.auth.deps import CallerDep
from app.casework import events as queries
from app.casework.queries import visible_case
from app.services import ServicesDep
from app.web.cases import CaseNumber

router = APIRouter(tags=["events"])
EVENT_TYPE = r"^[a-z0-9_]{1,40}$"


@router.get(
    "/api/cases/{n}/events",
    response_model=list[EventOut],
    responses=errors(401, 404),
    summary="A case's escalation log, oldest first",
)
def case_events(n: CaseNumber, svc: ServicesDep, caller: CallerDep) -> list[EventOut]:
    with svc.sessions() as session:
        if visible_case(session, caller, n) is None:
            raise HTTPException(404, "no such case")
        return queries.case_events(session, n)


@router.get(
    "/api/cases/{n}/events/verify",
    response_model=ChainReport,
    responses=errors(401, 404),
    summary="Check the case's log against its hash chain",
    description="Reports the first event that was edited, removed or reordered since it "
    "was written.",
)
def verify_case_events(n: CaseNumber, svc: ServicesDep, caller: CallerDep) -> ChainReport:
    with svc.sessions() as session:
        if visible_case(session, caller, n) is None:
            raise HTTPException(404, "no such case")
        verdict = queries.verify_case(session, n)
    broken = verdict.broken
    return ChainReport(
        case=n,
        ok=broken is None,
        events=verdict.events,
        head=verdict.head,
        broken=BrokenLink(
            event_id=broken.event_id, seq=broken.seq, type=broken.type, problem=broken.problem
        )
        if broken
        else None,
    )


@router.get(
    "/api/events",
    response_model=EventPage,
    responses={
        200: {
            "description": "A page of events (JSON), or with `format=csv` every matching "
            "event as CSV (id, case, at, type, actor, detail as JSON)",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        **errors(400, 401),
    },
    summary="Every event the token may see, oldest first",
)
def list_events(
    svc: ServicesDep,
    caller: CallerDep,
    since: Annotated[
        datetime | None, Query(description="At or after this time (ISO 8601; UTC if no offset)")
    ] = None,
    until: Annotated[datetime | None, Query(description="Before this time")] = None,
    type: Annotated[
        str | None, Query(pattern=EVENT_TYPE, description="Only this type (one of EventOut.type's)")
    ] = None,
    cursor: Annotated[
        str | None, Query(max_length=200, description="`next_cursor` of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    format: Annotated[
        Literal["json", "csv"],
        Query(description="csv: the whole selection as one spreadsheet (no paging)"),
    ] = "json",
) -> EventPage | StreamingResponse:
    where = queries.EventFilter(since=utc(since), until=utc(until), type=type)
    if format == "csv":
        return StreamingResponse(
            queries.csv_rows(svc.sessions, caller, where),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="events.csv"'},
        )
    after = decode_cursor(cursor) if cursor else None
    with svc.sessions() as session:
        return queries.event_page(session, caller, where, after, limit)
