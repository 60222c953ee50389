"""Delivery reports for what the service sent: a row's status moves forward only, and a
page that could not be delivered falls back (an SMS page to a call, a call page to the next
tier, app.paging.fallback).

Twilio can report on a message before the dispatcher has stored its SID (the send and the
callback race). Such a report is kept (`EarlyStatus`) and applied the moment the SID is
stored, in that transaction: a `failed` report is never lost, nor its fallback. On
PostgreSQL both sides take an advisory lock on the SID, so one of them always sees the other.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from app.audit.log import SYSTEM, record
from app.cases import reporter
from app.cases.models import Case
from app.event_types import EventType
from app.paging import fallback
from app.paging.models import Outbound
from app.paging.outbox import CALL_PAGE, DRILL_CALL, PROVIDER_ORDER, failure
from app.paging.reachability import mark_reachable, mark_unreachable
from app.roster.models import Responder
from app.telephony import outcomes
from app.telephony.models import EarlyStatus

EARLY_KEPT = timedelta(days=1)


def lock_sid(session: Session, sid: str) -> None:
    """Serialise the dispatcher storing a SID and a callback about it (PostgreSQL; SQLite
    has one writer at a time anyway)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(func.hashtext(sid))))


def report(
    session: Session,
    sid: str,
    status: str,
    now: datetime,
    *,
    code: str | None = None,
    seconds: str | None = None,
) -> bool:
    """One status callback. Returns whether the worker has new work (a fallback)."""
    lock_sid(session, sid)
    row = session.scalar(select(Outbound).where(Outbound.provider_sid == sid).with_for_update())
    if row is None:
        # Kept until its SID is stored; one never stored (not ours) is let go after a day.
        session.execute(delete(EarlyStatus).where(EarlyStatus.received_at < now - EARLY_KEPT))
        session.add(
            EarlyStatus(
                sid=sid[:64],
                status=status[:20],
                code=code[:20] if code else None,
                seconds=seconds[:20] if seconds else None,
                received_at=now,
            )
        )
        return False
    return progress(session, row, status, now, code=code, seconds=seconds)


def early_statuses(session: Session, sids: Collection[str]) -> dict[str, list[EarlyStatus]]:
    """What Twilio reported about these SIDs before they were stored, each SID locked as
    `lock_sid` does: a whole batch of outcomes (app.paging.dispatcher) in two statements
    rather than two per SID. Call before storing the SIDs; `apply_early` then applies them."""
    wanted = sorted(set(sids))
    if not wanted:
        return {}
    if session.get_bind().dialect.name == "postgresql":
        # In sorted order (unnest keeps the array's), so two batches sharing a SID (a
        # lease taken over) cannot deadlock; a status callback only ever holds one.
        session.execute(
            text(
                "SELECT pg_advisory_xact_lock(hashtext(sid))"
                " FROM unnest(CAST(:sids AS text[])) AS sid"
            ),
            {"sids": wanted},
        )
    early: dict[str, list[EarlyStatus]] = {}
    with session.no_autoflush:
        for kept in session.scalars(
            select(EarlyStatus).where(EarlyStatus.sid.in_(wanted)).order_by(EarlyStatus.id)
        ):
            early.setdefault(kept.sid, []).append(kept)
    return early


def apply_early(session: Session, row: Outbound, now: datetime, early: list[EarlyStatus]) -> bool:
    """The SID was just stored: apply what Twilio reported about it meanwhile (read and
    locked by `early_statuses`), in order."""
    if row.provider_sid is None or not early:
        return False
    work = False
    for kept in early:
        work |= progress(session, row, kept.status, now, code=kept.code, seconds=kept.seconds)
    session.execute(delete(EarlyStatus).where(EarlyStatus.sid == row.provider_sid))
    return work


def progress(
    session: Session,
    row: Outbound,
    status: str,
    now: datetime,
    *,
    code: str | None = None,
    seconds: str | None = None,
) -> bool:
    if row.kind == CALL_PAGE:
        return fallback.call_progress(session, row, status, now, code=code, seconds=seconds)
    if row.kind == DRILL_CALL:
        fallback.call_moved(row, status, code)  # a drill's test call: never escalates
        return False
    return _message_progress(session, row, status, code, now)


def _message_progress(
    session: Session, row: Outbound, status: str, code: str | None, now: datetime
) -> bool:
    """Move a message forward and log it; returns whether a fallback call was queued."""
    if status not in PROVIDER_ORDER or PROVIDER_ORDER[status] <= PROVIDER_ORDER.get(row.status, 0):
        return False  # unknown, late or repeated: never roll back
    row.status = status
    prefix = "page" if row.kind == "page" else "message"
    if status == "delivered":
        if row.responder_id is not None:
            responder = session.get_one(Responder, row.responder_id)
            mark_reachable(session, responder, now, why="an SMS was delivered")
        record(
            session,
            case_id=row.case_id,
            type=EventType(f"{prefix}_delivered"),
            actor=SYSTEM,
            at=now,
            outbound_id=row.id,
            sid=row.provider_sid,
        )
    elif status in outcomes.MESSAGE_FAILED:
        row.error = failure(status, code)
        record(
            session,
            case_id=row.case_id,
            type=EventType(f"{prefix}_failed"),
            actor=SYSTEM,
            at=now,
            outbound_id=row.id,
            sid=row.provider_sid,
            status=status,
            code=code,
        )
        if row.responder_id is None and row.case_id is not None:
            case = session.get_one(Case, row.case_id)
            if row.to_phone == case.reporter_phone:
                reporter.mark_unreachable(session, case, outcomes.no_texts_reason(code), now)
            return False
        if row.kind != "page" and row.responder_id is not None:
            # A notice that cannot reach them (opted out, a landline): later notices stop.
            if outcomes.no_texts_reason(code) is not None:
                mark_unreachable(session, row.responder_id, row.error, now, case_id=row.case_id)
            return False
        # A page that expired in Twilio's queue (30036) says nothing about its reader: it
        # falls back to a call without marking them unreachable by SMS.
        expired = outcomes.delivery_failure(code) is outcomes.Verdict.EXPIRED
        return fallback.call_instead(session, row, now, unreachable=not expired)
    return False
