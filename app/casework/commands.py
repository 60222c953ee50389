"""Responder commands: what a responder may do with a case (by SMS, by call or through the
API): see it, take it, step back, reply to the reporter, resolve it, list their open cases.

Each function works in the caller's transaction and returns the answer to give them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import wording
from app.audit.log import record
from app.cases import reporter
from app.cases.models import OPEN_STATES, Case, Exclusion, Message
from app.casework.conflicts import exclude, exclude_named_in_writing
from app.event_types import EventType
from app.paging import engine as clock
from app.paging import outbox
from app.paging.engine import Audience, audience
from app.paging.models import Outbound
from app.paging.outbox import cancel_pending_pages, enqueue
from app.roster.models import Hotline, Responder


def visible_case(session: Session, hotline: Hotline, responder: Responder, n: int) -> Case | None:
    """The case as a responder may act on it: None when it does not exist, is another
    hotline's, they are excluded from it, or they were never paged for it nor took it (the
    same None, so the answer reveals nothing: not even that a number is a case).

    The case row is locked for the rest of the transaction (on PostgreSQL), so two commands
    about one case, an SMS ACK and an accepted call say, take turns: the first ACK wins.
    """
    case = session.get(Case, n, with_for_update={"key_share": True})
    if case is None or case.hotline_id != hotline.id:
        return None
    excluded = session.scalar(
        select(Exclusion.id).where(
            Exclusion.case_id == case.id, Exclusion.responder_id == responder.id
        )
    )
    if excluded is not None or not was_involved(session, case, responder):
        return None
    return case


def was_involved(session: Session, case: Case, responder: Responder) -> bool:
    """Was the responder owed anything about the case (a page, call or notice not cancelled
    before it went out), or did they take or resolve it? The same rule as the API's
    (app.casework.queries.involved_case_ids)."""
    if responder.id in (case.acknowledged_by_id, case.resolved_by_id):
        return True
    return outbox.was_messaged(session, case.id, responder.id)


def not_takeable(session: Session, case: Case, responder: Responder) -> str | None:
    """Why a responder cannot take the case now (the answer to give them), or None."""
    if case.status == "resolved":
        return wording.already_resolved(case.id)
    if case.status == "acknowledged":
        if case.acknowledged_by_id == responder.id:
            return wording.ack_confirmation(case.id)
        holder = session.get_one(Responder, case.acknowledged_by_id)
        return wording.already_taken(case.id, holder.name)
    return None


def acknowledge(
    session: Session, case: Case, responder: Responder, now: datetime, *, via: str
) -> str:
    """The first acknowledgement takes the case; returns the answer for the responder."""
    taken = not_takeable(session, case, responder)
    if taken is not None:
        return taken
    case.status = "acknowledged"
    case.acknowledged_at = now
    case.acknowledged_by_id = responder.id
    clock.stop_clock(case)
    cancel_pending_pages(session, case.id, now)
    record(
        session, case_id=case.id, type=EventType.ACKNOWLEDGED, actor=responder.name, at=now, via=via
    )
    aud = audience(session, case)
    _tell_others(session, aud, responder, wording.taken_notice(case.id, responder.name), now)
    enqueue(
        session,
        kind="reporter_notice",
        case_id=case.id,
        to_phone=case.reporter_phone,
        from_phone=aud.hotline.number,
        body=wording.reporter_ack_notice(aud.hotline.name, case.id, lead=responder.role == "lead"),
        now=now,
    )
    return wording.ack_confirmation(case.id)


def _tell_others(
    session: Session, aud: Audience, actor: Responder | None, body: str, now: datetime
) -> None:
    """Tell every other eligible responder who was paged about the case."""
    others = outbox.heard_about(session, aud.case.id) - ({actor.id} if actor else set())
    for person in aud.eligible(others):
        enqueue(
            session,
            kind="notice",
            case_id=aud.case.id,
            responder_id=person.id,
            to_phone=person.phone,
            from_phone=aud.hotline.number,
            body=body,
            now=now,
        )


def pending_for(session: Session, hotline: Hotline, responder: Responder) -> list[int]:
    """Open, unacknowledged cases this responder was paged for and may still hear about."""
    rows = session.execute(
        select(Case.id, Case.opened_at)
        .join(Outbound, Outbound.case_id == Case.id)
        .outerjoin(
            Exclusion,
            (Exclusion.case_id == Case.id) & (Exclusion.responder_id == responder.id),
        )
        .where(
            Case.hotline_id == hotline.id,
            Case.status == "open",
            outbox.pages_owed_to(responder.id),
            Exclusion.id.is_(None),
        )
        .distinct()
        .order_by(Case.opened_at, Case.id)
    )
    return [row.id for row in rows]


def recuse(session: Session, case: Case, responder: Responder, now: datetime) -> str:
    exclude(session, case, responder.id, "recused", now, actor=responder.name)
    return wording.recused(case.id)


def relay(session: Session, case: Case, responder: Responder, text: str, now: datetime) -> str:
    """Pass a responder's words to the reporter from the hotline number: neither side
    learns the other's phone number. Nothing is sent, and the responder is told why, when
    the reporter cannot get texts or the words do not fit in a few texts. A responder the
    text names is excluded first (it is kept on the case, where they could read it)."""
    hotline = session.get_one(Hotline, case.hotline_id)
    why = reporter.cannot_text(case)
    parts = wording.relay_parts(hotline.name, case.id, text)
    if why or parts is None:
        record(
            session,
            case_id=case.id,
            type=EventType.RELAY_NOT_SENT,
            actor=responder.name,
            at=now,
            chars=len(text),
            reason=why or "too_long",
        )
        if why:
            return wording.reporter_cannot_get_texts(case.id, why)
        return wording.reply_too_long(case.id, wording.relay_max_chars(hotline.name, case.id))
    exclude_named_in_writing(
        session, case, {"reply": text}, now, actor=responder.name, writers={responder.id}
    )
    message = Message(case_id=case.id, direction="out", author=responder.name, body=text, at=now)
    session.add(message)
    session.flush()
    for part in parts:
        enqueue(
            session,
            kind="relay",
            case_id=case.id,
            to_phone=case.reporter_phone,
            from_phone=hotline.number,
            body=part,
            now=now,
        )
    record(
        session,
        case_id=case.id,
        type=EventType.RELAYED,
        actor=responder.name,
        at=now,
        message_id=message.id,
        chars=len(text),
        parts=len(parts),
    )
    return wording.relayed(case.id, parts=len(parts))


def resolve(session: Session, case: Case, responder: Responder, now: datetime) -> str:
    if case.status == "resolved":
        return wording.already_resolved(case.id)
    if case.acknowledged_by_id != responder.id and responder.role != "alternate":
        return wording.may_not_resolve(case.id)
    close(session, case, now, actor=responder.name, by=responder)
    return wording.resolved(case.id)


def close(
    session: Session,
    case: Case,
    now: datetime,
    *,
    actor: str,
    by: Responder | None,
    **detail: Any,
) -> None:
    """Resolve the case: escalation stops, unsent pages are cancelled, whoever was paged is
    told. The SMS RESOLVE and the API's resolve (`by` is None for a token that is no
    responder of the hotline) both end here."""
    case.status = "resolved"
    case.resolved_at = now
    case.resolved_by_id = by.id if by else None
    clock.stop_clock(case)
    cancel_pending_pages(session, case.id, now)
    record(session, case_id=case.id, type=EventType.RESOLVED, actor=actor, at=now, **detail)
    aud = audience(session, case)
    _tell_others(session, aud, by, wording.resolved_notice(case.id, by.name if by else actor), now)


def open_cases_of(
    session: Session, hotline: Hotline, responder: Responder
) -> list[tuple[int, str]]:
    """STATUS: the open cases a responder took or was paged for, with their state."""
    paged = outbox.cases_messaged([responder.id])
    excluded = select(Exclusion.case_id).where(Exclusion.responder_id == responder.id)
    cases = session.scalars(
        select(Case)
        .where(
            Case.hotline_id == hotline.id,
            Case.status.in_(OPEN_STATES),
            (Case.acknowledged_by_id == responder.id) | Case.id.in_(paged),
            Case.id.not_in(excluded),
        )
        .order_by(Case.opened_at, Case.id)
    ).all()
    holders = {
        r.id: r.name
        for r in session.scalars(
            select(Responder).where(
                Responder.id.in_({c.acknowledged_by_id for c in cases if c.acknowledged_by_id})
            )
        )
    }
    entries = []
    for case in cases:
        if case.acknowledged_by_id == responder.id:
            state = "yours"
        elif case.acknowledged_by_id is not None:
            state = f"taken by {holders[case.acknowledged_by_id]}"
        else:
            state = "waiting for ACK"
        entries.append((case.id, state))
    return entries
