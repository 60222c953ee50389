"""What happens to a case: opening, new text, exclusions, acknowledgement, relays, resolution.

Each function works in the caller's transaction and writes the case's state, its events
and the messages it owes together, so none exists without the others.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import wording
from app.audit.log import REPORTER, SYSTEM, record
from app.cases import reporter
from app.cases.models import Case, Exclusion, Message
from app.cases.numbers import insert_numbered
from app.cases.report import flagged_in, is_emergency, named_across, named_in, texts_in_a_row
from app.paging import escalation
from app.paging.engine import Audience, advance, audience, page_everyone, roster_snapshot
from app.paging.models import Outbound
from app.paging.outbox import (
    CANCELLED,
    FAILED,
    PAGE_KINDS,
    PENDING,
    UPDATE_NOTICE,
    cancel_pending_pages,
    enqueue,
    mark_new_work,
)
from app.privacy import keys
from app.roster.cache import roster_of
from app.roster.models import Hotline, Responder

OPEN_STATES = ("open", "acknowledged")
UPDATE_NOTICE_INTERVAL = timedelta(minutes=1)
NEW_CASE_WINDOW = timedelta(minutes=1)
# A name split over texts: texts of one reporter at most SPLIT_GAP apart are read together,
# the last SPLIT_TEXTS of them.
SPLIT_GAP = timedelta(minutes=5)
SPLIT_TEXTS = 4


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
        type="new_case_limited",
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
    held = paging_from is not None and paging_from > now
    case = Case(
        hotline_id=hotline.id,
        reporter_phone=reporter_phone,
        channel=channel,
        status="open",
        emergency=False,
        unroutable=False,
        opened_at=now,
        policy=hotline.policy if policy is None else policy,
        escalation_started_at=paging_from if held else now,
        next_step=0,
        next_due_at=paging_from if held else now,
        members=roster_snapshot(session, hotline),
        paging_round=0,
    )
    insert_numbered(session, case)  # a random number (app.cases.numbers)
    record(session, case_id=case.id, type="case_opened", actor=actor, at=now, channel=channel)
    reporter.at_opening(session, case, now)
    if body is not None:
        add_text(session, case, body, now, actor=actor)
    if case.emergency:
        # Everyone was paged at once; the policy's later tiers still follow as reminders.
        case.next_step = 1
        case.next_due_at = escalation.step_due_at(case.policy, now, 1)
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
    case.escalation_started_at = now
    case.next_due_at = now
    advance(session, case, now)


def add_text(session: Session, case: Case, body: str, now: datetime, *, actor: str) -> bool:
    """Attach a reporter's text and act on what it says: exclusions and emergency.

    Returns whether this text made the case an emergency.
    """
    message = Message(case_id=case.id, direction="in", author=actor, body=body, at=now)
    session.add(message)
    session.flush()
    record(
        session,
        case_id=case.id,
        type="message_received",
        actor=actor,
        at=now,
        message_id=message.id,
        chars=len(body),
    )
    exclude_named(session, case, body, now)
    if not is_emergency(body) or case.status not in OPEN_STATES:
        return False
    first = not case.emergency
    if first:
        case.emergency = True
        record(session, case_id=case.id, type="emergency", actor=actor, at=now)
    if case.status == "open" and not first:
        return False  # everyone eligible was paged for it already: an update tells them
    # The holder and every eligible lead and alternate hear it at once, taken case or not.
    page_everyone(session, case, now, report=body, message_id=message.id)
    return True


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
        recipients = aud.eligible(_heard_about(session, case.id, include_pending=True))
    if not recipients:
        return False
    due = _next_notice_at(case.last_update_notice_at, now)
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
        row = enqueue(
            session,
            kind=UPDATE_NOTICE,
            case_id=case.id,
            responder_id=person.id,
            to_phone=person.phone,
            from_phone=aud.hotline.number,
            body=wording.update_notice(aud.hotline.name, case.id, body),
            now=now,
        )
        row.next_attempt_at = due
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


def exclude_named(session: Session, case: Case, text: str, now: datetime) -> None:
    """Exclude every responder the text flags with CONFLICT or names outright, also with the
    reporter's texts just before it ("Blake" in one, "Rivera" in the next); but not a
    responder who reported it and names themselves: they already know."""
    roster = roster_of(session, session.get_one(Hotline, case.hotline_id))
    reporter = roster.active_by_phone.get(case.reporter_phone)
    texts = texts_in_a_row([*_texts_before(session, case, text, now), (now, text)], gap=SPLIT_GAP)
    flagged = flagged_in(" ".join(texts), roster.named) - {reporter}
    for responder_id in sorted(flagged):
        exclude(session, case, responder_id, "reporter_flagged", now, actor=REPORTER)
    for responder_id in sorted(named_across(texts, roster.named) - flagged - {reporter}):
        exclude(session, case, responder_id, "named_in_report", now, actor=REPORTER)


def _texts_before(
    session: Session, case: Case, text: str, now: datetime
) -> list[tuple[datetime, str]]:
    """The reporter's last few texts on the case before `text` (stored already or not),
    oldest first."""
    rows = session.execute(
        select(Message.id, Message.at, Message.body)
        .where(
            Message.case_id == case.id,
            Message.direction == "in",
            Message.at >= now - SPLIT_GAP * SPLIT_TEXTS,
        )
        .order_by(Message.id.desc())
        .limit(SPLIT_TEXTS + 1)
    ).all()
    if rows and rows[0].at == now and rows[0].body == text:
        rows = rows[1:]  # `text` itself
    return [(row.at, row.body) for row in reversed(rows[:SPLIT_TEXTS])]


def exclude_named_in_writing(
    session: Session,
    case: Case,
    texts: dict[str, str | None],
    now: datetime,
    *,
    actor: str,
    writers: Collection[int] = (),
) -> list[int]:
    """What the chair, an alternate or anyone else writes on a case ({where: text}, e.g. a
    record field, a note, a reply) excludes every responder it names, as a report naming them
    would, before the write is stored: it must not be readable by them for an instant.

    Not the writers themselves (a token's responders, a responder's REPLY), nor a responder
    who reported the case. Returns the responders newly excluded.
    """
    roster = roster_of(session, session.get_one(Hotline, case.hotline_id))
    spared = {*writers, roster.active_by_phone.get(case.reporter_phone)}
    named: dict[int, str] = {}
    for where, text in texts.items():
        if not text:
            continue
        found = named_in(text, roster.named) | flagged_in(text, roster.named)
        for responder_id in found - spared:
            named.setdefault(responder_id, where)
    return [
        responder_id
        for responder_id, where in sorted(named.items())
        if exclude(session, case, responder_id, "named_in_report", now, actor=actor, named_in=where)
    ]


def exclude(
    session: Session,
    case: Case,
    responder_id: int,
    reason: str,
    now: datetime,
    *,
    actor: str,
    **detail: Any,
) -> bool:
    """Exclude a responder from a case; it takes effect for everything that follows.
    `detail` goes on the `excluded` event (e.g. where a name was written).

    Returns False when they were excluded already.
    """
    already = session.scalar(
        select(Exclusion.id).where(
            Exclusion.case_id == case.id, Exclusion.responder_id == responder_id
        )
    )
    if already is not None:
        return False
    session.add(Exclusion(case_id=case.id, responder_id=responder_id, reason=reason, at=now))
    session.flush()
    responder = session.get_one(Responder, responder_id)
    record(
        session,
        case_id=case.id,
        type="excluded",
        actor=actor,
        at=now,
        responder=responder.name,
        reason=reason,
        **detail,
    )
    session.execute(
        Outbound.__table__.update()
        .where(
            Outbound.case_id == case.id,
            Outbound.responder_id == responder_id,
            Outbound.status == PENDING,
        )
        .values(status=CANCELLED, error="responder excluded from the case")
    )
    if case.acknowledged_by_id == responder_id:
        _reopen(session, case, now)
    elif case.status == "open" and case.next_step > 0:
        _reroute_if_nobody_left(session, case, now)
    return True


def _reopen(session: Session, case: Case, now: datetime) -> None:
    """The responder who had the case is excluded from it (recused, named): it is paged
    again at once, from the policy's first tier, in a new round of pages (the first
    round's are spent, and a page is owed once per round)."""
    case.status = "open"
    case.acknowledged_at = None
    case.acknowledged_by_id = None
    case.escalation_started_at = now
    case.next_step = 0
    case.next_due_at = now
    case.paging_round = (case.paging_round or 0) + 1
    mark_new_work(session)
    record(session, case_id=case.id, type="reopened", actor=SYSTEM, at=now)
    advance(session, case, now)


def after_roster_load(session: Session, hotline_id: int, now: datetime) -> None:
    """A reload may deactivate people a running case depends on (or give them a new row,
    which its roster snapshot does not know): as for an exclusion, a case whose holder is
    gone is paged again, and one whose paged people are all gone goes to its next tier.
    One that nobody could be paged for pages whoever of its roster is active again."""
    cases = session.scalars(
        select(Case)
        .where(Case.hotline_id == hotline_id, Case.status.in_(OPEN_STATES))
        .order_by(Case.id)
    ).all()
    for case in cases:
        if case.unroutable and audience(session, case).rule.everyone():
            # Someone of the case's roster is back (reactivated): page them.
            case.unroutable = False
            case.next_step = min(case.next_step, escalation.step_count(case.policy) - 1)
            case.next_due_at = now
            record(session, case_id=case.id, type="routable_again", actor=SYSTEM, at=now)
            advance(session, case, now)
        elif case.acknowledged_by_id is not None:
            if not audience(session, case).may_hear(case.acknowledged_by_id):
                _reopen(session, case, now)
        elif case.next_step > 0:
            _reroute_if_nobody_left(session, case, now)


def _reroute_if_nobody_left(session: Session, case: Case, now: datetime) -> None:
    """When exclusions leave nobody eligible who was paged, the next tier goes out at once;
    past the policy's end, its last tier runs again (falling back to the alternates)."""
    aud = audience(session, case)
    if aud.eligible(_heard_about(session, case.id, include_pending=True)):
        return
    case.next_step = min(case.next_step, escalation.step_count(case.policy) - 1)
    case.next_due_at = now
    mark_new_work(session)


def _heard_about(session: Session, case_id: int, *, include_pending: bool = False) -> set[int]:
    """Responders a page about the case was handed to Twilio for (or is about to be)."""
    not_heard = (CANCELLED, FAILED) if include_pending else (PENDING, CANCELLED, FAILED)
    return {
        rid
        for rid in session.scalars(
            select(Outbound.responder_id).where(
                Outbound.case_id == case_id,
                Outbound.kind.in_(PAGE_KINDS),
                Outbound.status.not_in(not_heard),
            )
        )
        if rid is not None
    }


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
    owed = session.scalar(
        select(Outbound.id)
        .where(
            Outbound.case_id == case.id,
            Outbound.responder_id == responder.id,
            Outbound.status != CANCELLED,
        )
        .limit(1)
    )
    return owed is not None


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
    case.next_due_at = None
    cancel_pending_pages(session, case.id, now)
    record(session, case_id=case.id, type="acknowledged", actor=responder.name, at=now, via=via)
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
    others = _heard_about(session, aud.case.id) - ({actor.id} if actor else set())
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
            Outbound.responder_id == responder.id,
            Outbound.kind.in_(PAGE_KINDS),
            Outbound.status != CANCELLED,
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
            type="relay_not_sent",
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
        type="relayed",
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
    case.next_due_at = None
    cancel_pending_pages(session, case.id, now)
    record(session, case_id=case.id, type="resolved", actor=actor, at=now, **detail)
    aud = audience(session, case)
    _tell_others(session, aud, by, wording.resolved_notice(case.id, by.name if by else actor), now)


def open_cases_of(
    session: Session, hotline: Hotline, responder: Responder
) -> list[tuple[int, str]]:
    """STATUS: the open cases a responder took or was paged for, with their state."""
    paged = select(Outbound.case_id).where(
        Outbound.responder_id == responder.id, Outbound.status != CANCELLED
    )
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
