"""/api/cases: the chair's view of cases, their records, notes and resolution."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response
from sqlalchemy.orm import Session

from app.api import MAX_ID, StorableText, decode_cursor, errors, utc
from app.auth.access import Caller
from app.auth.deps import CallerDep, EditorDep
from app.cases import recordings
from app.cases.models import Case
from app.cases.recordings import Bearer
from app.cases.schemas import (
    CaseDetail,
    CasePage,
    CaseStatus,
    ExclusionIn,
    ExclusionOut,
    NoteIn,
    NoteOut,
    RecordPatch,
    ResolveIn,
)
from app.casework import queries
from app.casework import record as writes
from app.db import transaction
from app.services import Services, ServicesDep

router = APIRouter(prefix="/api/cases", tags=["cases"])

CaseNumber = Annotated[
    int,
    Path(
        ge=1,
        le=MAX_ID,
        description="The case number (drawn at random, at least four digits)",
        openapi_examples={"a case": {"value": 48213}},
    ),
]
E164 = r"^\+[1-9][0-9]{1,14}$"


def _links(svc: Services, caller: Caller) -> Callable[[str], str]:
    """Voicemail links in an API answer: bound to this token, short-lived, re-checked when
    followed (app.cases.recordings)."""
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
    "lands on the case's log with its old and new value. A responder of the hotline named in "
    "a field (full name, alias, or a first or last name no one else has) is excluded from "
    "the case first, as if named in a report (`named_in_report`): what is written about them "
    "is never readable by them. The token's own responder is not.",
)
def patch_case(
    n: CaseNumber, patch: RecordPatch, svc: ServicesDep, caller: EditorDep
) -> CaseDetail:
    with transaction(svc.sessions) as session:
        case = _case(session, caller, n, lock=True)
        writes.update_record(
            session, case, patch.model_dump(exclude_unset=True), caller, svc.clock()
        )
        detail = queries.case_detail(session, caller, case, links=_links(svc, caller))
    return detail


@router.post(
    "/{n}/notes",
    response_model=NoteOut,
    status_code=201,
    responses=errors(400, 401, 404),
    summary="Add a note (anyone who may see the case)",
    description="A responder of the hotline the note names (other than the token's own) is "
    "excluded from the case first, as if named in a report (`named_in_report`).",
)
def add_note(n: CaseNumber, note: NoteIn, svc: ServicesDep, caller: CallerDep) -> NoteOut:
    with transaction(svc.sessions) as session:
        case = _case(session, caller, n, lock=True)
        row = writes.add_note(session, case, note.body, caller, svc.clock())
        out = NoteOut(
            id=row.id, author=row.author, author_role=row.author_role, body=row.body, at=row.at
        )
    return out


@router.post(
    "/{n}/resolve",
    response_model=CaseDetail,
    responses=errors(400, 401, 403, 404, 409),
    summary="Resolve the case with the decided response (chair, admin)",
    description="Stops escalation exactly as an SMS RESOLVE does: unsent pages are "
    "cancelled and everyone who was paged is told. `outcome` is one of the staff "
    "procedure's possible responses (see the Outcome schema). A responder the `note` names "
    "is excluded first, as in a note; `follow_up_assignee` excludes nobody.",
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
        detail = queries.case_detail(session, caller, case, links=_links(svc, caller))
    return detail


@router.post(
    "/{n}/exclusions",
    response_model=ExclusionOut,
    status_code=201,
    responses=errors(400, 401, 403, 404) | {200: {"description": "Excluded already"}},
    summary="Exclude a responder from the case (chair, admin)",
    description="Name the responder by full name or alias (any case and accents) or by "
    "phone number (E.164). From then on they get nothing about the case (pending pages are "
    "cancelled), see no trace of it in the API, and cannot act on it by SMS; if they held "
    "it, it is paged again; if this leaves the current tier with nobody, the next tier is "
    "paged at once. The reason is `chair_excluded`, logged as an `excluded` event. 201 for "
    "a new exclusion, 200 with the earlier one (and its reason) if they were excluded "
    "already. Writing a responder's name in the record, a note or a resolution note "
    "excludes them as well (reason `named_in_report`). 422 names the problem when nobody, or "
    "more than one responder, of the case's hotline answers to `responder`.",
)
def add_exclusion(
    n: CaseNumber, body: ExclusionIn, response: Response, svc: ServicesDep, caller: EditorDep
) -> ExclusionOut:
    with transaction(svc.sessions) as session:
        case = _case(session, caller, n, lock=True)
        try:
            exclusion, created = writes.exclude_responder(
                session, case, body.responder, caller, svc.clock()
            )
        except writes.UnknownResponder as exc:
            # shaped like FastAPI's own 422, as the schema documents it
            problem = {"loc": ["body", "responder"], "msg": str(exc), "type": "value_error"}
            raise HTTPException(422, [problem]) from None
        out = ExclusionOut(
            responder=exclusion.responder.name, reason=exclusion.reason, at=exclusion.at
        )
    if not created:
        response.status_code = 200
    return out
