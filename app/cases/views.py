"""/api/cases: the chair's view of cases, their records, notes and resolution."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query
from sqlalchemy.orm import Session

from app.api import MAX_ID, StorableText, decode_cursor, errors, utc
from app.auth.access import Caller
from app.auth.deps import CallerDep, EditorDep
from app.cases import queries
from app.cases import record as writes
from app.cases.models import Case
from app.cases.schemas import (
    CaseDetail,
    CasePage,
    CaseStatus,
    NoteIn,
    NoteOut,
    RecordPatch,
    ResolveIn,
)
from app.db import transaction
from app.paging.worker import announce_work
from app.services import Services, ServicesDep
from app.voice import recordings
from app.voice.recordings import Bearer

router = APIRouter(prefix="/api/cases", tags=["cases"])

CaseNumber = Annotated[
    int,
    Path(ge=1, le=MAX_ID, description="The case number", openapi_examples={"case 1": {"value": 1}}),
]
E164 = r"^\+[1-9][0-9]{1,14}$"


def _links(svc: Services, caller: Caller) -> Callable[[str], str]:
    """Voicemail links in an API answer: bound to this token, short-lived, re-checked when
    followed (app.voice.recordings)."""
    return partial(
        recordings.expand,
        base=svc.settings.public_url,
        secret=svc.settings.twilio_auth_token or "",
        bearer=Bearer("t", caller.token_id),
        now=svc.clock(),
    )


def _case(session: Session, caller: Caller, number: int, *, lock: bool = False) -> Case:
    case = queries.visible_case(session, caller, number, lock=lock)
    if case is None:
        raise HTTPException(404, "no such case")
    return case


@router.get(
    "",
    response_model=CasePage,
    responses=errors(400, 401),
    summary="Cases the token may see, newest first",
)
def list_cases(
    svc: ServicesDep,
    caller: CallerDep,
    status: Annotated[CaseStatus | None, Query(description="Only cases in this state")] = None,
    hotline: Annotated[
        str | None, Query(pattern=E164, description="Only this hotline's cases (its number)")
    ] = None,
    since: Annotated[
        datetime | None,
        Query(description="Opened at or after this time (ISO 8601; UTC if no offset)"),
    ] = None,
    until: Annotated[datetime | None, Query(description="Opened before this time")] = None,
    q: Annotated[
        StorableText | None,
        Query(
            min_length=1,
            max_length=200,
            description="Text in the case's messages, or the record's description of the "
            "incident or the reported person (case-insensitive)",
        ),
    ] = None,
    cursor: Annotated[
        str | None, Query(max_length=200, description="`next_cursor` of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CasePage:
    after = decode_cursor(cursor) if cursor else None
    with svc.sessions() as session:
        return queries.list_cases(
            session,
            caller,
            status=status,
            hotline=hotline,
            since=utc(since),
            until=utc(until),
            q=q,
            after=after,
            limit=limit,
        )


@router.get(
    "/{n}",
    response_model=CaseDetail,
    responses=errors(401, 404),
    summary="A case: messages, pages and their delivery, exclusions, record, notes",
)
def get_case(n: CaseNumber, svc: ServicesDep, caller: CallerDep) -> CaseDetail:
    with svc.sessions() as session:
        return queries.case_detail(
            session, caller, _case(session, caller, n), links=_links(svc, caller)
        )


@router.patch(
    "/{n}",
    response_model=CaseDetail,
    responses=errors(400, 401, 403, 404),
    summary="Edit the case record (chair, admin)",
    description="Partial: fields left out stay as they are; null clears a field. Each change "
    "lands on the case's log with its old and new value.",
)
def patch_case(
    n: CaseNumber, patch: RecordPatch, svc: ServicesDep, caller: EditorDep
) -> CaseDetail:
    with transaction(svc.sessions) as session:
        case = _case(session, caller, n, lock=True)
        writes.update_record(
            session, case, patch.model_dump(exclude_unset=True), caller, svc.clock()
        )
        return queries.case_detail(session, caller, case, links=_links(svc, caller))


@router.post(
    "/{n}/notes",
    response_model=NoteOut,
    status_code=201,
    responses=errors(400, 401, 404),
    summary="Add a note (anyone who may see the case)",
)
def add_note(n: CaseNumber, note: NoteIn, svc: ServicesDep, caller: CallerDep) -> NoteOut:
    with transaction(svc.sessions) as session:
        case = _case(session, caller, n, lock=True)
        row = writes.add_note(session, case, note.body, caller, svc.clock())
        return NoteOut(
            id=row.id, author=row.author, author_role=row.author_role, body=row.body, at=row.at
        )


@router.post(
    "/{n}/resolve",
    response_model=CaseDetail,
    responses=errors(400, 401, 403, 404, 409),
    summary="Resolve the case with the decided response (chair, admin)",
    description="Stops escalation exactly as an SMS RESOLVE does: unsent pages are "
    "cancelled and everyone who was paged is told. `outcome` is one of the staff "
    "procedure's possible responses (see the Outcome schema).",
)
def resolve_case(n: CaseNumber, body: ResolveIn, svc: ServicesDep, caller: EditorDep) -> CaseDetail:
    with transaction(svc.sessions) as session:
        case = _case(session, caller, n, lock=True)
        try:
            writes.resolve(
                session,
                case,
                outcome=body.outcome,
                follow_up_assignee=body.follow_up_assignee,
                note=body.note,
                caller=caller,
                now=svc.clock(),
            )
        except writes.AlreadyResolved:
            raise HTTPException(409, f"case {n} is already resolved") from None
        announce_work(session)
        detail = queries.case_detail(session, caller, case, links=_links(svc, caller))
    svc.wakeup.set()  # the notices to whoever was paged go out now
    return detail
