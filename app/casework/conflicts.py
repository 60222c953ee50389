"""Conflicts: who is kept off a case. A report or anything written on a case that names a
responder excludes them (app.cases.report reads the text); an exclusion cancels what they
were owed and, when it leaves nobody, reopens or reroutes the case. A roster reload is
treated the same way.

Each function works in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.log import REPORTER, SYSTEM, record
from app.cases.models import OPEN_STATES, Case, Exclusion, Message
from app.cases.report import flagged_in, named_across, named_in, texts_in_a_row
from app.event_types import EventType
from app.paging import engine as clock
from app.paging import outbox
from app.paging.engine import advance, audience
from app.paging.models import Outbound
from app.paging.outbox import CANCELLED, PENDING, mark_new_work
from app.roster.cache import Roster, roster_of
from app.roster.models import Hotline, Responder

# A name split over texts: texts of one reporter at most SPLIT_GAP apart are read together,
# the last SPLIT_TEXTS of them.
SPLIT_GAP = timedelta(minutes=5)
SPLIT_TEXTS = 4


def exclude_named(session: Session, case: Case, text: str, now: datetime) -> None:
    """Exclude every responder the text flags with CONFLICT or names outright, also with the
    reporter's texts just before it ("Blake" in one, "Rivera" in the next); but not a
    responder who reported it and names themselves: they already know."""
    roster = roster_of(session, session.get_one(Hotline, case.hotline_id))
    texts = texts_in_a_row([*_texts_before(session, case, text, now), (now, text)], gap=SPLIT_GAP)
    flagged, named = named_by(roster, case.reporter_phone, texts)
    for responder_id in sorted(flagged):
        exclude(session, case, responder_id, "reporter_flagged", now, actor=REPORTER)
    for responder_id in sorted(named):
        exclude(session, case, responder_id, "named_in_report", now, actor=REPORTER)


def named_by(roster: Roster, reporter_phone: str, texts: list[str]) -> tuple[set[int], set[int]]:
    """Whom the reporter's texts in a row exclude: (flagged with CONFLICT, named outright),
    never the reporter themselves (a responder who reported it). Pure: a new report that
    names nobody is opened without reading anything (app.casework.new_report)."""
    reporter = roster.active_by_phone.get(reporter_phone)
    flagged = flagged_in(" ".join(texts), roster.named) - {reporter}
    return flagged, named_across(texts, roster.named) - flagged - {reporter}


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
        type=EventType.EXCLUDED,
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
    clock.restart_clock(case, now)
    case.paging_round = (case.paging_round or 0) + 1
    mark_new_work(session)
    record(session, case_id=case.id, type=EventType.REOPENED, actor=SYSTEM, at=now)
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
            clock.due_now(case, now, last_step=True)
            record(session, case_id=case.id, type=EventType.ROUTABLE_AGAIN, actor=SYSTEM, at=now)
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
    if aud.eligible(outbox.heard_about(session, case.id, include_pending=True)):
        return
    clock.due_now(case, now, last_step=True)
    mark_new_work(session)
