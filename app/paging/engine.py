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
from app.event_types import EventType
from app.observe import step_ran
from app.paging import escalation
from app.paging.eligibility import CaseAudience, Person, Span
from app.paging.models import Outbound
from app.paging.outbox import (
    CALL_PAGE,
    EMERGENCY_NOTICE,
    PAGE_KINDS,
    already_queued,
    enqueue,
    page_key,
)
from app.paging.reachability import unreachable_among
from app.roster.cache import roster_of
from app.roster.models import Hotline

BATCH = 50


@dataclass(slots=True)
class Audience:
    """One case's audience rule (app.paging.eligibility.CaseAudience) with what the shells
    need beside it, read once per transaction. Every path that says or rings anything about
    a case builds its recipients through `rule`, and the dispatcher asks it again at send
    time."""

    case: Case
    hotline: Hotline
    rule: CaseAudience
    spans: list[Span]
    names: dict[int, str]

    @property
    def people(self) -> tuple[Person, ...]:
        return self.rule.people

    @property
    def excluded(self) -> frozenset[int]:
        return self.rule.excluded

    def may_hear(self, responder_id: int) -> bool:
        return self.rule.may_hear(responder_id)

    def eligible(self, ids: set[int]) -> list[Person]:
        return self.rule.of(ids)


def audience(session: Session, case: Case) -> Audience:
    """Who may hear about the case now: its roster snapshot, less exclusions and anyone
    deactivated since, less its reporter."""
    hotline = session.get_one(Hotline, case.hotline_id)
    roster = roster_of(session, hotline)
    excluded = frozenset(
        session.scalars(select(Exclusion.responder_id).where(Exclusion.case_id == case.id))
    )
    members = frozenset(case.members) if case.members is not None else None
    return Audience(
        case=case,
        hotline=hotline,
        rule=CaseAudience(roster.people, excluded, case.reporter_phone, members),
        spans=list(roster.spans),
        names=roster.names,
    )


def roster_snapshot(session: Session, hotline: Hotline) -> list[int]:
    """The responder ids a case opening now may ever page: the active roster."""
    return [p.id for p in roster_of(session, hotline).people if p.active]


def first_report(session: Session, case_id: int) -> str:
    body = session.scalar(
        select(Message.body)
        .where(Message.case_id == case_id, Message.direction == "in")
        .order_by(Message.id)
        .limit(1)
    )
    return body or "(voice report)"


def queue_pages(
    session: Session,
    aud: Audience,
    recipients: list[Person],
    step: int | str,
    now: datetime,
    *,
    report: str | None = None,
) -> list[Person]:
    """Queue one page per recipient for this step; a page already owed is not owed twice.
    Someone SMS cannot reach is paged by a voice call instead. `report` is what the page
    quotes (the case's first message when None)."""
    case = aud.case
    recipients = aud.rule.among(recipients)
    keys = {p.id: page_key(case.id, p.id, step, case.paging_round) for p in recipients}
    existing = already_queued(session, list(keys.values()))
    paged_before = set(
        session.scalars(
            select(Outbound.responder_id).where(
                Outbound.case_id == case.id, Outbound.kind.in_(PAGE_KINDS)
            )
        )
    )
    by_voice = unreachable_among(session, keys)
    if report is None:
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
        record(session, case_id=case.id, type=EventType.ESCALATION_ENDED, actor=SYSTEM, at=now)
        return
    aud = audience(session, case)
    plan = escalation.plan_step(policy, case.next_step, aud.rule, aud.spans, now)
    if plan.unroutable:
        case.next_due_at = None
        if not case.unroutable:
            case.unroutable = True
            record(session, case_id=case.id, type=EventType.UNROUTABLE, actor=SYSTEM, at=now)
        return
    queued = queue_pages(session, aud, list(plan.recipients), plan.step, now)
    record(
        session,
        case_id=case.id,
        type=EventType.ESCALATED if plan.step > 0 else EventType.PAGING,
        actor=SYSTEM,
        at=now,
        **escalation.step_detail(policy, plan, case.next_step, [aud.names[p.id] for p in queued]),
    )
    case.next_step = plan.step + 1
    case.next_due_at = escalation.step_due_at(policy, case.escalation_started_at, case.next_step)
    if case.next_due_at is None:
        record(session, case_id=case.id, type=EventType.ESCALATION_ENDED, actor=SYSTEM, at=now)


def page_everyone(
    session: Session, case: Case, now: datetime, *, report: str, message_id: int
) -> None:
    """An emergency pages every eligible lead and alternate at once, quoting `report` (the
    text that carried the emergency word). On a case someone holds, the holder and everyone
    else still hear it: an emergency notice, owed until the case is resolved."""
    aud = audience(session, case)
    recipients = aud.rule.everyone()
    if not recipients:
        if not case.unroutable:
            case.unroutable = True
            record(session, case_id=case.id, type=EventType.UNROUTABLE, actor=SYSTEM, at=now)
        return
    if case.status == "open":
        queued = queue_pages(session, aud, recipients, "emergency", now, report=report)
    else:
        queued = _emergency_notices(session, aud, recipients, report, message_id, now)
    record(
        session,
        case_id=case.id,
        type=EventType.EMERGENCY_PAGING,
        actor=SYSTEM,
        at=now,
        responders=[aud.names[p.id] for p in queued],
    )


def _emergency_notices(
    session: Session,
    aud: Audience,
    recipients: list[Person],
    report: str,
    message_id: int,
    now: datetime,
) -> list[Person]:
    """Each text with an emergency word on a held case reaches everyone once."""
    case = aud.case
    holder = aud.names.get(case.acknowledged_by_id) if case.acknowledged_by_id else None
    keys = {p.id: f"emergency:{case.id}:{p.id}:{message_id}" for p in recipients}
    existing = already_queued(session, list(keys.values()))
    queued = []
    for person in recipients:
        if keys[person.id] in existing:
            continue
        enqueue(
            session,
            kind=EMERGENCY_NOTICE,
            case_id=case.id,
            responder_id=person.id,
            dedupe_key=keys[person.id],
            to_phone=person.phone,
            from_phone=aud.hotline.number,
            body=wording.emergency_notice(aud.hotline.name, case.id, report, holder),
            now=now,
        )
        queued.append(person)
    return queued


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
