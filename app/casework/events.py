"""Reading the log for the API and the command line: pages, CSV export, verification."""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, false, or_, select, true, tuple_
from sqlalchemy.orm import Session, sessionmaker

from app.api import encode_cursor
from app.audit import chain
from app.audit.models import Event
from app.audit.schemas import EventOut, EventPage
from app.auth.access import READ_ALL, Caller, may_see_caseless_events
from app.casework.queries import visible_cases
from app.privacy import keys

CSV_BATCH = 2000
CSV_COLUMNS = ("id", "case", "at", "type", "actor", "detail")


def visible_events(caller: Caller) -> ColumnElement[bool]:
    """Events of the cases the caller may see, plus the caseless ones for organizers."""
    if caller.role in READ_ALL and not caller.responder_ids:
        return true()
    caseless = Event.case_id.is_(None) if may_see_caseless_events(caller) else false()
    return or_(caseless, visible_cases(caller, Event.case_id))


@dataclass(frozen=True, slots=True)
class EventFilter:
    since: datetime | None = None
    until: datetime | None = None
    type: str | None = None


def _page_query(
    caller: Caller, where: EventFilter, after: tuple[datetime, int] | None, limit: int
) -> Select[tuple]:  # type: ignore[type-arg]
    query = select(*_SHOWN).where(visible_events(caller))
    if where.since is not None:
        query = query.where(Event.at >= where.since)
    if where.until is not None:
        query = query.where(Event.at < where.until)
    if where.type is not None:
        query = query.where(Event.type == where.type)
    if after is not None:
        query = query.where(Event.at >= after[0], tuple_(Event.at, Event.id) > after)
    return query.order_by(Event.at, Event.id).limit(limit)


_SHOWN = (
    Event.id,
    Event.case_id,
    Event.at,
    Event.type,
    Event.actor,
    Event.detail,
    Event.private,
    Event.private_digest,
)


def shown_detail(row) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The detail as written: the public part with the decrypted private part, or a mark
    that retention erased the private part."""
    if row.private is not None:
        return {**row.detail, **row.private}
    if row.private_digest is not None:
        return {**row.detail, "erased": True}
    return dict(row.detail)


def _out(row) -> EventOut:  # type: ignore[no-untyped-def]
    return EventOut(
        id=row.id,
        case=row.case_id,
        at=row.at,
        type=row.type,
        actor=row.actor,
        detail=shown_detail(row),
    )


def event_page(
    session: Session,
    caller: Caller,
    where: EventFilter,
    after: tuple[datetime, int] | None,
    limit: int,
) -> EventPage:
    """Every event the caller may see, oldest first, one keyset page at a time."""
    rows = session.execute(_page_query(caller, where, after, limit + 1)).all()
    last = rows[limit - 1] if len(rows) > limit else None
    return EventPage(
        items=[_out(r) for r in rows[:limit]],
        next_cursor=encode_cursor(last.at, last.id) if last else None,
    )


def case_events(session: Session, case_id: int) -> list[EventOut]:
    """One case's log in the order it was written."""
    rows = session.execute(
        select(*_SHOWN).where(Event.case_id == case_id).order_by(Event.seq)
    ).all()
    return [_out(r) for r in rows]


def csv_rows(sessions: sessionmaker[Session], caller: Caller, where: EventFilter) -> Iterator[str]:
    """The export as CSV text, batch by batch: each batch is its own short keyset query and
    transaction, so memory stays flat however long the log is and no transaction (nor, on
    SQLite, the write lock) is held while the client reads."""
    yield _csv_text([CSV_COLUMNS])
    after: tuple[datetime, int] | None = None
    while True:
        with sessions() as session:
            rows = session.execute(_page_query(caller, where, after, CSV_BATCH)).all()
        if not rows:
            return
        yield _csv_text(
            (
                r.id,
                "" if r.case_id is None else r.case_id,
                r.at.isoformat().replace("+00:00", "Z"),
                r.type,
                _spreadsheet_safe(r.actor),
                json.dumps(shown_detail(r), sort_keys=True, ensure_ascii=False),
            )
            for r in rows
        )
        if len(rows) < CSV_BATCH:
            return
        after = (rows[-1].at, rows[-1].id)


def _csv_text(rows: Iterable[Sequence[object]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


def _spreadsheet_safe(value: object) -> object:
    """A cell that starts with = + - @ is run as a formula by spreadsheets; the log holds
    reporters' words, so such cells are quoted with a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def stored_chain(session: Session, case_id: int | None) -> Iterator[chain.Stored]:
    in_chain = Event.case_id.is_(None) if case_id is None else Event.case_id == case_id
    query = _stored().where(in_chain).order_by(Event.seq)
    for row in session.execute(query.execution_options(yield_per=5000)):
        yield chain.Stored(*row)


def _stored() -> Select[tuple]:  # type: ignore[type-arg]
    return select(
        Event.id,
        Event.case_id,
        Event.seq,
        Event.hash,
        Event.at,
        Event.type,
        Event.actor,
        Event.detail,
        Event.private_digest,
        Event.private,
    )


def verify_case(session: Session, case_id: int | None) -> chain.Verdict:
    return chain.verify(stored_chain(session, case_id), keys.active().chain_key)


def verify_all(
    session: Session,
    progress: Callable[[int | None, chain.Verdict], None] | None = None,
    *,
    where: ColumnElement[bool] | None = None,
) -> list[tuple[int | None, chain.Verdict]]:
    """Every chain of the log, each reported once: the broken ones with their first break.
    `where` keeps only some chains (whole ones: e.g. `visible_events(caller)`)."""
    query = _stored().where(true() if where is None else where)
    query = query.order_by(Event.case_id, Event.seq).execution_options(yield_per=5000)
    events = (chain.Stored(*row) for row in session.execute(query))
    key = keys.active().chain_key
    verdicts = []
    for case_id, group in itertools.groupby(events, key=lambda e: e.case_id):
        verdict = chain.verify(group, key)
        verdicts.append((case_id, verdict))
        if progress:
            progress(case_id, verdict)
    return verdicts
