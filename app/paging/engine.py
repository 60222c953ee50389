"""The escalation engine's shell: gathers a case's roster, asks the pure rules whom to page,
and queues the pages and events in the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app import wording
from app.audit.log import SYSTEM, record
from app.cases.models import Case, Exclusion, Message
from app.db import is_sqlite
from app.observe import step_ran
from app.paging import escalation
from app.paging.eligibility import Person, Span, eligible, may_hear
from app.paging.models import Outbound
from app.paging.outbox import CALL_PAGE, PAGE_KINDS, already_queued, enqueue, page_key
from app.paging.reachability import unreachable_among
from app.roster.cache import roster_of
from app.roster.models import Hotline

BATCH = 50


@dataclass(slots=True)
class Audience:
    """Everything eligibility needs about one case, read once per transaction."""

    case: Case
    hotline: Hotline
    people: list[Person]
    spans: list[Span]
    excluded: set[int]
    names: dict[int, str]

    def may_hear(self, responder_id: int) -> bool:
        person = next((p for p in self.people if p.id == responder_id), None)
        return person is not None and may_hear(person, self.excluded, self.case.reporter_phone)

    def eligible(self, ids: set[int]) -> list[Person]:
        return eligible(
            (p for p in self.people if p.id in ids), self.excluded, self.case.reporter_phone
        )


def audience(session: Session, case: Case) -> Audience:
    hotline = session.get_one(Hotline, case.hotline_id)
    roster = roster_of(session, hotline)
    excluded = set(
        session.scalars(select(Exclusion.responder_id).where(Exclusion.case_id == case.id))
    )
    return Audience(
        case=case,
        hotline=hotline,
        people=list(roster.people),
        spans=list(roster.spans),
        excluded=excluded,
        names=roster.names,
    )


def first_report(session: Session, case_id: int) -> str:
    body = session.scalar(
        select(Message.body)
        .where(Message.case_id == case_id, Message.direction == "in")
        .order_by(Message.id)
        .limit(1)
    )
    return body or "(voice report)"


def queue_pages(
    session: Session, aud: Audience, recipients: list[Person], step: int | str, now: datetime
) -> list[Person]:
    """Queue one page per recipient for this step; a page already owed is not owed twice.
    Someone SMS cannot reach is paged by a voice call instead."""
    case = aud.case
    keys = {p.id: page_key(case.id, p.id, step) for p in recipients}
    existing = already_queued(session, list(keys.values()))
    paged_before = set(
        session.scalars(
            select(Outbound.responder_id).where(
                Outbound.case_id == case.id, Outbound.kind.in_(PAGE_KINDS)
            )
        )
    )
    by_voice = unreachable_among(session, keys)
    report = first_report(session, case.id)
    queued = []
    for person in recipients:
        if keys[person.id] in existing:
            continue
        body = wording.page(
            aud.hotline.name,
            case.id,
            report,
            emergency=case.emergency,
            reminder=person.id in paged_before,
        )
        enqueue(
            session,
            kind=CALL_PAGE if person.id in by_voice else "page",
            case_id=case.id,
            responder_id=person.id,
            step=step if isinstance(step, int) else None,
            dedupe_key=keys[person.id],
            to_phone=person.phone,
            from_phone=aud.hotline.number,
            body=body,
            now=now,
        )
        queued.append(person)
    return queued


def advance(session: Session, case: Case, now: datetime) -> None:
    """Run the step of the case's policy that is due, if any."""
    if case.status != "open" or case.next_due_at is None or case.next_due_at > now:
        return
    step_ran(session, due=case.next_due_at, now=now)
    policy = case.policy
    if case.next_step >= escalation.step_count(policy):
        case.next_due_at = None
        record(session, case_id=case.id, type="escalation_ended", actor=SYSTEM, at=now)
        return
    aud = audience(session, case)
    plan = escalation.plan_step(
        policy, case.next_step, aud.people, aud.spans, aud.excluded, case.reporter_phone, now
    )
    if plan.unroutable:
        case.next_due_at = None
        if not case.unroutable:
            case.unroutable = True
            record(session, case_id=case.id, type="unroutable", actor=SYSTEM, at=now)
        return
    queued = queue_pages(session, aud, list(plan.recipients), plan.step, now)
    tier = escalation.step_tier(policy, plan.step)
    record(
        session,
        case_id=case.id,
        type="escalated" if plan.step > 0 else "paging",
        actor=SYSTEM,
        at=now,
        step=plan.step,
        tier=plan.step % len(policy["tiers"]) + 1,
        run=escalation.step_run(policy, plan.step) + 1,
        notify="alternates" if plan.fallback else tier["notify"],
        fallback=plan.fallback,
        skipped=plan.step - case.next_step,
        responders=[aud.names[p.id] for p in queued],
    )
    case.next_step = plan.step + 1
    case.next_due_at = escalation.step_due_at(policy, case.escalation_started_at, case.next_step)
    if case.next_due_at is None:
        record(session, case_id=case.id, type="escalation_ended", actor=SYSTEM, at=now)


def page_everyone(session: Session, case: Case, now: datetime) -> None:
    """An emergency pages every eligible lead and alternate at once."""
    aud = audience(session, case)
    recipients = eligible(aud.people, aud.excluded, case.reporter_phone)
    if not recipients:
        if not case.unroutable:
            case.unroutable = True
            record(session, case_id=case.id, type="unroutable", actor=SYSTEM, at=now)
        return
    queued = queue_pages(session, aud, recipients, "emergency", now)
    record(
        session,
        case_id=case.id,
        type="emergency_paging",
        actor=SYSTEM,
        at=now,
        responders=[aud.names[p.id] for p in queued],
    )


def run_due(factory: sessionmaker[Session], now: datetime) -> int:
    """Advance every case whose next step is due; returns how many were advanced.

    On PostgreSQL each case is claimed with FOR UPDATE SKIP LOCKED, so several workers
    share the work and no step runs twice.
    """
    done = 0
    with factory() as session, session.begin():
        query = (
            select(Case)
            .where(Case.status == "open", Case.next_due_at <= now)
            .order_by(Case.next_due_at)
            .limit(BATCH)
        )
        if not is_sqlite(str(session.get_bind().url)):
            query = query.with_for_update(skip_locked=True)
        for case in session.scalars(query).all():
            advance(session, case, now)
            done += 1
    return done


def next_due(session: Session) -> datetime | None:
    return session.scalar(select(func.min(Case.next_due_at)).where(Case.status == "open"))
