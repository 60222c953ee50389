"""Intake: a report opens a case or joins the reporter's open one, and the reporter's texts
are attached and acted on (exclusions, emergency, update notices to whoever handles it).

Each function works in the caller's transaction and writes the case's state, its events
and the messages it owes together, so none exists without the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app import wording
from app.audit.log import REPORTER, SYSTEM, insert_events, record, sealed
from app.cases import reporter
from app.cases.models import OPEN_STATES, Case, Message
from app.cases.numbers import insert_numbered
from app.cases.report import is_emergency
from app.casework.conflicts import exclude_named
from app.event_types import EventType
from app.paging import engine as clock
from app.paging.engine import advance, audience, page_everyone, roster_snapshot
from app.paging.models import Outbound
from app.paging.outbox import (
    PENDING,
    UPDATE_NOTICE,
    enqueue_many,
    heard_about,
    row,
)
from app.privacy import keys
from app.roster.models import Hotline

UPDATE_NOTICE_INTERVAL = timedelta(minutes=1)
NEW_CASE_WINDOW = timedelta(minutes=1)


def find_open_case(session: Session, hotline_id: int, reporter_phone: str) -> Case | None:
    return session.scalar(
        select(Case)
        .where(
            Case.hotline_id == hotline_id,
            Case.reporter_hash == keys.active().lookup(reporter_phone),
            Case.status.in_(OPEN_STATES),
        )
        .order_by(Case.opened_at.desc(), Case.id.desc())
        .limit(1)
    )


def case_to_join(
    session: Session, hotline_id: int, phone: str, now: datetime, limit: int
) -> Case | None:
    """Flood control: once one number has opened `limit` cases in the last minute, its next
    report joins the newest of them rather than paging everyone once more."""
    recent = session.scalars(
        select(Case)
        .where(
            Case.hotline_id == hotline_id,
            Case.reporter_hash == keys.active().lookup(phone),
            Case.opened_at > now - NEW_CASE_WINDOW,
        )
        .order_by(Case.opened_at.desc(), Case.id.desc())
        .limit(limit)
    ).all()
    if len(recent) < limit:
        return None
    record(
        session,
        case_id=recent[0].id,
        type=EventType.NEW_CASE_LIMITED,
        actor=SYSTEM,
        at=now,
        opened_last_minute=len(recent),
    )
    return recent[0]


def open_case(
    session: Session,
    hotline: Hotline,
    *,
    reporter_phone: str,
    channel: str,
    body: str | None,
    now: datetime,
    actor: str = REPORTER,
    paging_from: datetime | None = None,
    policy: dict[str, Any] | None = None,
) -> Case:
    """Open a case and queue its first pages, in the caller's transaction.

    The case keeps who is on the roster now: nobody added later is ever paged about it.
    `paging_from` holds its first pages back until then (a call's caller has not chosen
    yet; see `start_paging`). `policy` is the hotline's unless given (a deactivated hotline's
    cases page its alternates)."""
    case = Case(
        hotline_id=hotline.id,
        reporter_phone=reporter_phone,
        channel=channel,
        status="open",
        emergency=False,
        unroutable=False,
        opened_at=now,
        policy=hotline.policy if policy is None else policy,
        members=roster_snapshot(session, hotline),
        paging_round=0,
    )
    clock.open_clock(case, now, paging_from)
    held = case.next_due_at is not None and case.next_due_at > now
    insert_numbered(session, case)  # a random number (app.cases.numbers)
    record(
        session, case_id=case.id, type=EventType.CASE_OPENED, actor=actor, at=now, channel=channel
    )
    reporter.at_opening(session, case, now)
    if body is not None:
        add_text(session, case, body, now, actor=actor)
    if case.emergency:
        # Everyone was paged at once; the policy's later tiers still follow as reminders.
        clock.after_emergency(case, now)
    elif not held:
        advance(session, case, now)
    return case


def paging_started(case: Case, now: datetime) -> bool:
    return case.next_step > 0 or case.next_due_at is None or case.next_due_at <= now


def start_paging(session: Session, case: Case, now: datetime) -> None:
    """A call's caller has chosen at the greeting: its escalation starts now, not when the
    fallback time set at opening comes (that only covers a caller who hung up first)."""
    if case.status != "open" or paging_started(case, now):
        return
    clock.start_now(case, now)
    advance(session, case, now)


def add_text(session: Session, case: Case, body: str, now: datetime, *, actor: str) -> bool:
    """Attach a reporter's text and act on what it says: exclusions and emergency.

    Returns whether this text made the case an emergency.
    """
    event = text_stored(session, case.id, body, now, actor=actor)
    insert_events(session, [event])
    exclude_named(session, case, body, now)
    if not is_emergency(body) or case.status not in OPEN_STATES:
        return False
    first = not case.emergency
    if first:
        case.emergency = True
        record(session, case_id=case.id, type=EventType.EMERGENCY, actor=actor, at=now)
    if case.status == "open" and not first:
        return False  # everyone eligible was paged for it already: an update tells them
    # The holder and every eligible lead and alternate hear it at once, taken case or not.
    page_everyone(session, case, now, report=body, message_id=event["detail"]["message_id"])
    return True


def text_stored(
    session: Session, case_id: int, body: str, now: datetime, *, actor: str
) -> dict[str, Any]:
    """Insert a text on the case (one Core statement, no flush) and return its
    message_received event, sealed into the case's chain, for the caller to insert
    (app.audit.log.insert_events) with any others."""
    return texts_stored(session, [(case_id, body, now, actor)])[0]


def texts_stored(
    session: Session, texts: Sequence[tuple[int, str, datetime, str]]
) -> list[dict[str, Any]]:
    """`text_stored` for many (case, body, time, author) at once: one executemany, and
    their events in the same order."""
    rows = [
        {"case_id": case_id, "direction": "in", "author": actor, "body": body, "at": at}
        for case_id, body, at, actor in texts
    ]
    ids = session.execute(_INSERT_MESSAGE, rows).scalars().all()
    return [
        sealed(
            session,
            case_id=row["case_id"],
            type=EventType.MESSAGE_RECEIVED,
            actor=row["author"],
            at=row["at"],
            message_id=message_id,
            chars=len(row["body"]),
        )
        for row, message_id in zip(rows, ids, strict=True)
    ]


# Built once: compiled once, then cached. The ids come back in the order of the rows.
_INSERT_MESSAGE = insert(Message.__table__).returning(
    Message.__table__.c.id, sort_by_parameter_order=True
)


def append_report(
    session: Session, case: Case, body: str, now: datetime, *, actor: str = REPORTER
) -> bool:
    """A reporter's follow-up text: attached, and told to whoever handles the case. Notices
    go at most once a minute per case: a follow-up within the minute is held and joined to
    the next notice (batched, never dropped), so a stream of texts does not flood anyone."""
    paged_everyone = add_text(session, case, body, now, actor=actor)
    if paged_everyone:
        return True
    aud = audience(session, case)
    if case.acknowledged_by_id is not None:
        recipients = aud.eligible({case.acknowledged_by_id})
    else:
        # a page still waiting to go out counts: its reader should get this too, after it
        recipients = aud.eligible(heard_about(session, case.id, include_pending=True))
    if not recipients:
        return False
    due = _next_notice_at(case.last_update_notice_at, now)
    notices: list[dict[str, Any]] = []
    for person in recipients:
        held = None
        if due > now:
            held = session.scalar(
                select(Outbound)
                .where(
                    Outbound.case_id == case.id,
                    Outbound.responder_id == person.id,
                    Outbound.kind == UPDATE_NOTICE,
                    Outbound.status == PENDING,
                    Outbound.next_attempt_at == due,
                )
                .order_by(Outbound.id.desc())
                .limit(1)
            )
        joined = wording.add_to_update(held.body, case.id, body) if held else None
        if held is not None and joined is not None:
            held.body = joined
            continue
        notice = row(
            kind=UPDATE_NOTICE,
            case_id=case.id,
            responder_id=person.id,
            to_phone=person.phone,
            from_phone=aud.hotline.number,
            body=wording.update_notice(aud.hotline.name, case.id, body),
            now=now,
        )
        notices.append(notice | {"next_attempt_at": due})
    enqueue_many(session, notices)
    case.last_update_notice_at = due
    return False


def _next_notice_at(last: datetime | None, now: datetime) -> datetime:
    """When the next update notice may go: now, or with the one already held for later,
    or a minute after the last one."""
    if last is None or now >= last + UPDATE_NOTICE_INTERVAL:
        return now
    if last > now:
        return last
    return last + UPDATE_NOTICE_INTERVAL
