"""Reading cases for the API, as the caller may see them.

`may_see_case` (app.auth.access) is the rule; `visible_cases` says the same in SQL, because a
keyset page must be filtered by the database. The API tests check that both agree: a case
is in a token's list exactly when its detail answers 200.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, or_, select, true, tuple_, union
from sqlalchemy.orm import Session, aliased

from app import wording
from app.api import encode_cursor
from app.audit.models import Event
from app.auth.access import (
    READ_ALL,
    Caller,
    mask_phone,
    may_see_case,
    sees_reporter_identity,
)
from app.cases.models import Case, CaseNote, CaseRecord, Exclusion, Message
from app.cases.reporter import cannot_text
from app.cases.schemas import (
    CaseDetail,
    CasePage,
    CaseSummary,
    ExclusionOut,
    MessageOut,
    NoteOut,
    PageOut,
    RecordOut,
)
from app.event_types import EventType
from app.paging import outbox
from app.paging.models import Outbound
from app.roster.models import Hotline, Responder
from app.wording import VOICEMAIL_MARKER


def involved_case_ids(responder_ids: frozenset[int]) -> Select[tuple[int]]:
    """Cases a message was owed to one of these responders for (a page, a call, a notice:
    anything not cancelled before it went out), or that one of them took or resolved."""
    ids = list(responder_ids)
    messaged = outbox.cases_messaged(ids)
    took = select(Case.id).where(
        or_(Case.acknowledged_by_id.in_(ids), Case.resolved_by_id.in_(ids))
    )
    return union(messaged, took)  # type: ignore[return-value]


def visible_cases(
    caller: Caller, case_id: ColumnElement[int | None] = Case.id
) -> ColumnElement[bool]:
    """The SQL form of `may_see_case`, on any column holding a case id: an exclusion is an
    index probe per row (NOT EXISTS); the involved set is a responder's few cases."""
    conditions: list[ColumnElement[bool]] = []
    if caller.responder_ids:
        excluded = exists().where(
            Exclusion.case_id == case_id, Exclusion.responder_id.in_(list(caller.responder_ids))
        )
        conditions.append(~excluded)
    if caller.role not in READ_ALL:
        conditions.append(case_id.in_(involved_case_ids(caller.responder_ids)))
    return and_(true(), *conditions)


def visible_case(
    session: Session, caller: Caller, number: int, *, lock: bool = False
) -> Case | None:
    """The case, or None when it does not exist or the caller may not see it: the same None,
    so a 404 reveals nothing. `lock` holds the case for a write (see app.audit.log)."""
    case = session.get(Case, number, with_for_update={"key_share": True} if lock else None)
    if case is None:
        return None
    excluded = set(
        session.scalars(select(Exclusion.responder_id).where(Exclusion.case_id == number))
    )
    involved = outbox.messaged_about(session, number) | {
        rid for rid in (case.acknowledged_by_id, case.resolved_by_id) if rid is not None
    }
    return case if may_see_case(caller, excluded, involved) else None


def case_list_query(
    caller: Caller,
    *,
    status: str | None,
    hotline: str | None,
    since: datetime | None,
    until: datetime | None,
    q: str | None,
    after: tuple[datetime, int] | None,
    limit: int,
    mentioning: Collection[int] | None = None,
) -> Select[tuple]:  # type: ignore[type-arg]
    """A keyset page of cases. `q` is searched by `cases_mentioning` (the texts are
    encrypted, SQL cannot see them), whose answer comes in as `mentioning`."""
    taker = aliased(Responder)
    query = (
        select(
            Case.id,
            Hotline.number,
            Hotline.name,
            Case.status,
            Case.channel,
            Case.emergency,
            Case.unroutable,
            Case.opened_at,
            Case.acknowledged_at,
            taker.name.label("taker"),
            Case.resolved_at,
            CaseRecord.outcome,
        )
        .join(Hotline, Hotline.id == Case.hotline_id)
        .outerjoin(taker, taker.id == Case.acknowledged_by_id)
        .outerjoin(CaseRecord, CaseRecord.case_id == Case.id)
        .where(visible_cases(caller))
    )
    if status is not None:
        query = query.where(Case.status == status)
    if hotline is not None:
        query = query.where(
            Case.hotline_id.in_(select(Hotline.id).where(Hotline.number == hotline))
        )
    if since is not None:
        query = query.where(Case.opened_at >= since)
    if until is not None:
        query = query.where(Case.opened_at < until)
    if q and mentioning is not None:
        query = query.where(Case.id.in_(list(mentioning)))
    if after is not None:
        query = query.where(Case.opened_at <= after[0], tuple_(Case.opened_at, Case.id) < after)
    return query.order_by(Case.opened_at.desc(), Case.id.desc()).limit(limit + 1)


def cases_mentioning(session: Session, caller: Caller, q: str) -> set[int]:
    """The visible cases whose messages, or whose record's description of the incident or of
    the reported person, hold `q` (any case). Those texts are encrypted at rest, so they are
    decrypted and searched here, over the caller's visible cases only
    (docs/adr/0007-keys-encryption-and-retention.md)."""
    needle = q.casefold()
    visible = select(Case.id).where(visible_cases(caller))
    found: set[int] = set()
    messages = select(Message.case_id, Message.body).where(Message.case_id.in_(visible))
    for case_id, body in session.execute(messages.execution_options(yield_per=2000)):
        if case_id not in found and needle in body.casefold():
            found.add(case_id)
    records = select(CaseRecord.case_id, CaseRecord.description, CaseRecord.reported_person).where(
        CaseRecord.case_id.in_(visible)
    )
    for case_id, *texts in session.execute(records):
        if any(text and needle in text.casefold() for text in texts):
            found.add(case_id)
    return found


def list_cases(session: Session, caller: Caller, *, limit: int, **filters: object) -> CasePage:
    q = filters.get("q")
    if q:
        filters["mentioning"] = cases_mentioning(session, caller, str(q))
    rows = session.execute(case_list_query(caller, limit=limit, **filters)).all()  # type: ignore[arg-type]
    items = [
        CaseSummary(
            number=r.id,
            hotline=r.number,
            hotline_name=r.name,
            status=r.status,
            channel=r.channel,
            emergency=r.emergency,
            unroutable=r.unroutable,
            opened_at=r.opened_at,
            acknowledged_at=r.acknowledged_at,
            acknowledged_by=r.taker,
            resolved_at=r.resolved_at,
            outcome=r.outcome,
        )
        for r in rows[:limit]
    ]
    more = len(rows) > limit
    last = rows[limit - 1] if more else None
    return CasePage(
        items=items, next_cursor=encode_cursor(last.opened_at, last.id) if last else None
    )


def case_detail(
    session: Session,
    caller: Caller,
    case: Case,
    *,
    links: Callable[[str], str] = lambda text: VOICEMAIL_MARKER.sub("(voicemail)", text),
) -> CaseDetail:
    """`links` turns the voicemail markers in messages into links for this caller."""
    hotline = session.get_one(Hotline, case.hotline_id)
    responders = session.execute(
        select(
            Responder.id,
            Responder.name,
            Responder.sms_unreachable_at,
            Responder.sms_unreachable_reason,
        ).where(Responder.hotline_id == case.hotline_id)
    ).all()
    names = {r.id: r.name for r in responders}
    messages = session.scalars(
        select(Message).where(Message.case_id == case.id).order_by(Message.id)
    )
    owed = session.scalars(
        select(Outbound)
        .where(Outbound.case_id == case.id, Outbound.responder_id.is_not(None))
        .order_by(Outbound.id)
    ).all()
    exclusions = session.scalars(
        select(Exclusion).where(Exclusion.case_id == case.id).order_by(Exclusion.id)
    )
    notes = session.scalars(
        select(CaseNote).where(CaseNote.case_id == case.id).order_by(CaseNote.id)
    )
    record = session.get(CaseRecord, case.id) or CaseRecord(reporter_anonymous=False)
    resolved_by = None
    if case.status == "resolved":
        resolved_by = session.scalar(
            select(Event.actor)
            .where(Event.case_id == case.id, Event.type == EventType.RESOLVED)
            .order_by(Event.seq.desc())
            .limit(1)
        )
    pages = [
        PageOut(
            responder=names.get(row.responder_id, "?"),  # type: ignore[arg-type]
            kind=row.kind,
            step=row.step,
            status=row.status,
            attempts=row.attempts,
            error=row.error,
            sent_at=row.sent_at,
        )
        for row in owed
    ]
    identity = sees_reporter_identity(caller, record.reporter_anonymous)
    return CaseDetail(
        number=case.id,
        hotline=hotline.number,
        hotline_name=hotline.name,
        status=case.status,  # type: ignore[arg-type]
        channel=case.channel,
        emergency=case.emergency,
        unroutable=case.unroutable,
        opened_at=case.opened_at,
        acknowledged_at=case.acknowledged_at,
        acknowledged_by=names.get(case.acknowledged_by_id) if case.acknowledged_by_id else None,
        resolved_at=case.resolved_at,
        outcome=record.outcome,  # type: ignore[arg-type]
        reporter=mask_phone(case.reporter_phone),
        reporter_reachable_by_sms=cannot_text(case) is None,
        reporter_unreachable_reason=cannot_text(case),
        resolved_by=resolved_by,
        follow_up_assignee=record.follow_up_assignee,
        record=RecordOut(
            incident_at=record.incident_at,
            location=record.location,
            description=record.description,
            reported_person=record.reported_person,
            circumstances=record.circumstances,
            reporter_name=record.reporter_name if identity else None,
            reporter_contact=record.reporter_contact if identity else None,
            reporter_anonymous=record.reporter_anonymous,
            witnesses=record.witnesses,
            suggested_responses=record.suggested_responses,
        ),
        messages=[
            MessageOut(direction=m.direction, author=m.author, body=links(m.body), at=m.at)
            for m in messages
        ],
        pages=pages,
        exclusions=[
            ExclusionOut(responder=names.get(e.responder_id, "?"), reason=e.reason, at=e.at)
            for e in exclusions
        ],
        notes=[
            NoteOut(id=n.id, author=n.author, author_role=n.author_role, body=n.body, at=n.at)
            for n in notes
        ],
        warnings=unreachable_warnings(
            [r for r in responders if r.id in {row.responder_id for row in owed}]
        )
        + reporter_warnings(case),
    )


def reporter_warnings(case: Case) -> list[str]:
    why = cannot_text(case)
    if why is None:
        return []
    return [
        f"The reporter cannot get texts ({wording.REPORTER_UNREACHABLE.get(why, why)}): "
        "REPLY sends nothing; reach them another way"
    ]


def unreachable_warnings(responders: list[Any]) -> list[str]:
    """Say who among the case's responders SMS cannot reach (marked when a page to them failed
    for good), so someone reaches them another way; their pages go by voice call meanwhile."""
    return [
        f"{r.name} cannot be reached by SMS since {r.sms_unreachable_at:%Y-%m-%d %H:%M} UTC "
        f"({r.sms_unreachable_reason}); pages to them go by voice call until an SMS reaches "
        "them again or they text START to the hotline"
        for r in responders
        if r.sms_unreachable_at is not None
    ]
