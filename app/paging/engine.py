"""The escalation engine's shell: gathers a case's roster, asks the pure rules whom to page,
and queues the pages and events in the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, sessionmaker

from app import wording
from app.audit.log import SYSTEM, chain_heads, record
from app.cases.models import Case, Exclusion, Message
from app.db import UTCDateTime, is_sqlite
from app.event_types import EventType
from app.observe import step_ran
from app.paging import escalation, outbox
from app.paging.eligibility import CaseAudience, Person, Span
from app.paging.outbox import (
    CALL_PAGE,
    EMERGENCY_NOTICE,
    already_queued,
    enqueue,
    enqueue_many,
    page_key,
    paged_before,
)
from app.paging.reachability import unreachable_among
from app.roster.cache import roster_of
from app.roster.models import Hotline

BATCH = 500  # cases per round: one transaction, a fixed handful of statements
T = TypeVar("T")


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
    return audiences(session, [case])[case.id]


def audiences(session: Session, cases: Sequence[Case]) -> dict[int, Audience]:
    """`audience` for many cases in two statements (their hotlines, their exclusions)
    instead of two per case: how the engine and the dispatcher read a whole batch."""
    if not cases:
        return {}
    ids = [c.id for c in cases]
    hotline_ids = {c.hotline_id for c in cases}
    hotlines = {
        h.id: h for h in session.scalars(select(Hotline).where(Hotline.id.in_(hotline_ids)))
    }
    excluded: dict[int, set[int]] = {}
    for chunk in _chunks(ids):
        for case_id, responder_id in session.execute(
            select(Exclusion.case_id, Exclusion.responder_id).where(Exclusion.case_id.in_(chunk))
        ):
            excluded.setdefault(case_id, set()).add(responder_id)
    out = {}
    for case in cases:
        hotline = hotlines[case.hotline_id]
        roster = roster_of(session, hotline)
        members = frozenset(case.members) if case.members is not None else None
        out[case.id] = Audience(
            case=case,
            hotline=hotline,
            rule=CaseAudience(
                roster.people,
                frozenset(excluded.get(case.id, ())),
                case.reporter_phone,
                members,
            ),
            spans=list(roster.spans),
            names=roster.names,
        )
    return out


CHUNK = 500  # ids per IN (...) list: far below every driver's parameter limit


def _chunks(ids: Sequence[T]) -> Iterator[Sequence[T]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i : i + CHUNK]


# The escalation clock. A case's `escalation_started_at`, `next_step` and `next_due_at` are
# written here and nowhere else; when a step is due is app.paging.escalation.step_due_at.


def open_clock(case: Case, now: datetime, paging_from: datetime | None = None) -> None:
    """A case opens: its policy starts now, or at `paging_from` when its first pages are
    held back until then (a call's caller has not chosen yet)."""
    start = paging_from if paging_from is not None and paging_from > now else now
    case.escalation_started_at = start
    case.next_step = 0
    case.next_due_at = start


def after_emergency(case: Case, now: datetime) -> None:
    """Everyone was paged at once: the policy's later tiers follow as reminders, timed
    from now."""
    case.next_step = 1
    case.next_due_at = escalation.step_due_at(case.policy, now, 1)


def start_now(case: Case, now: datetime) -> None:
    """A held-back case starts paging now rather than at its fallback time."""
    case.escalation_started_at = now
    case.next_due_at = now


def restart_clock(case: Case, now: datetime) -> None:
    """The case is paged again from its policy's first tier, starting now."""
    case.escalation_started_at = now
    case.next_step = 0
    case.next_due_at = now


def due_now(case: Case, now: datetime, *, last_step: bool = False) -> None:
    """The next step goes out at once rather than at its time; with `last_step`, never a
    step past the policy's end (its last tier runs again)."""
    if last_step:
        case.next_step = min(case.next_step, escalation.step_count(case.policy) - 1)
    case.next_due_at = now


def hurry(case: Case, now: datetime) -> bool:
    """Bring a later step forward to now; returns whether one was still to come."""
    if case.next_due_at is None:
        return False
    if case.next_due_at > now:
        case.next_due_at = now
    return True


def first_step_clock(policy: dict[str, Any], now: datetime, step: int) -> dict[str, Any]:
    """The clock of a case opening now whose `step` went out at once, as the case row's
    values: the new-report path (app.casework.new_report) inserts the row itself."""
    next_step = step + 1
    return {
        "escalation_started_at": now,
        "next_step": next_step,
        "next_due_at": escalation.step_due_at(policy, now, next_step),
    }


def step_done(case: Case, step: int) -> datetime | None:
    """`step` went out: the next one is due at its time, None past the policy's end."""
    case.next_step = step + 1
    case.next_due_at = escalation.step_due_at(
        case.policy, case.escalation_started_at, case.next_step
    )
    return case.next_due_at


def stop_clock(case: Case) -> None:
    """Nothing more is due: the case was taken, closed, or nobody is left to page."""
    case.next_due_at = None


def roster_snapshot(session: Session, hotline: Hotline) -> list[int]:
    """The responder ids a case opening now may ever page: the active roster."""
    return [p.id for p in roster_of(session, hotline).people if p.active]


def first_report(session: Session, case_id: int) -> str:
    return first_reports(session, [case_id])[case_id]


def first_reports(session: Session, case_ids: Sequence[int]) -> dict[int, str]:
    """What each case's pages quote: its first inbound text, one statement per chunk."""
    out = dict.fromkeys(case_ids, VOICE_REPORT)
    for chunk in _chunks(list(case_ids)):
        first = (
            select(func.min(Message.id))
            .where(Message.case_id.in_(chunk), Message.direction == "in")
            .group_by(Message.case_id)
        )
        for case_id, body in session.execute(
            select(Message.case_id, Message.body).where(Message.id.in_(first))
        ):
            out[case_id] = body or VOICE_REPORT
    return out


VOICE_REPORT = "(voice report)"


@dataclass(slots=True)
class PageOrder:
    """The pages one case owes for one step: whom, and the text they quote (None: the
    case's first message)."""

    aud: Audience
    recipients: list[Person]
    step: int | str
    report: str | None = None


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
    return queue_many(session, [PageOrder(aud, recipients, step, report)], now)[0]


def queue_many(session: Session, orders: Sequence[PageOrder], now: datetime) -> list[list[Person]]:
    """`queue_pages` for many cases at once: a fixed handful of statements whatever their
    number (what was owed already, who was paged before, who is unreachable by SMS, the
    reports quoted) and one multi-row insert. Returns whom each order queued."""
    wanted = []
    for order in orders:
        case = order.aud.case
        recipients = order.aud.rule.among(order.recipients)
        keys = {p.id: page_key(case.id, p.id, order.step, case.paging_round) for p in recipients}
        wanted.append((order, recipients, keys))
    all_keys = [k for _, _, keys in wanted for k in keys.values()]
    existing = already_queued(session, all_keys)
    case_ids = sorted({order.aud.case.id for order in orders})
    before = paged_before(session, case_ids)
    by_voice = unreachable_among(session, {p.id for _, people, _ in wanted for p in people})
    quoted = first_reports(session, [i for i in case_ids if _needs_report(orders, i)])
    rows: list[dict[str, Any]] = []
    result = []
    for order, recipients, keys in wanted:
        case, hotline = order.aud.case, order.aud.hotline
        report = order.report if order.report is not None else quoted[case.id]
        queued = []
        for person in recipients:
            if keys[person.id] in existing:
                continue
            existing.add(keys[person.id])
            body = wording.page(
                hotline.name,
                case.id,
                report,
                emergency=case.emergency,
                reminder=person.id in before.get(case.id, ()),
            )
            rows.append(
                outbox.row(
                    kind=CALL_PAGE if person.id in by_voice else "page",
                    case_id=case.id,
                    responder_id=person.id,
                    step=order.step if isinstance(order.step, int) else None,
                    dedupe_key=keys[person.id],
                    to_phone=person.phone,
                    from_phone=hotline.number,
                    body=body,
                    now=now,
                )
            )
            queued.append(person)
        result.append(queued)
    enqueue_many(session, rows)
    return result


def _needs_report(orders: Sequence[PageOrder], case_id: int) -> bool:
    return any(o.aud.case.id == case_id and o.report is None for o in orders)


def advance(session: Session, case: Case, now: datetime) -> None:
    """Run the step of the case's policy that is due, if any."""
    advance_all(session, [case], now)


def advance_all(session: Session, cases: Sequence[Case], now: datetime) -> None:
    """Run the due step of each case, set-based: the audiences, the pages owed and the
    chains' heads are read for all of them in a few statements, the pure rules
    (app.paging.escalation) plan each case, and the pages go in as one multi-row insert."""
    due = [
        c
        for c in cases
        if c.status == "open" and c.next_due_at is not None and c.next_due_at <= now
    ]
    if not due:
        return
    chain_heads(session, [c.id for c in due])
    auds = audiences(session, due)
    planned: list[tuple[Case, escalation.StepPlan]] = []
    for case in due:
        assert case.next_due_at is not None
        step_ran(session, due=case.next_due_at, now=now)
        if case.next_step >= escalation.step_count(case.policy):
            stop_clock(case)
            record(session, case_id=case.id, type=EventType.ESCALATION_ENDED, actor=SYSTEM, at=now)
            continue
        aud = auds[case.id]
        plan = escalation.plan_step(case.policy, case.next_step, aud.rule, aud.spans, now)
        if plan.unroutable:
            stop_clock(case)
            if not case.unroutable:
                case.unroutable = True
                record(session, case_id=case.id, type=EventType.UNROUTABLE, actor=SYSTEM, at=now)
            continue
        planned.append((case, plan))
    orders = [PageOrder(auds[c.id], list(plan.recipients), plan.step) for c, plan in planned]
    for (case, plan), queued in zip(planned, queue_many(session, orders, now), strict=True):
        policy = case.policy
        record(
            session,
            case_id=case.id,
            type=EventType.ESCALATED if plan.step > 0 else EventType.PAGING,
            actor=SYSTEM,
            at=now,
            **escalation.step_detail(
                policy, plan, case.next_step, [auds[case.id].names[p.id] for p in queued]
            ),
        )
        if step_done(case, plan.step) is None:
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
    with factory() as session, session.begin():
        # Most rounds find nothing due: ask that in a statement built once (the worker's
        # CPU, ADR 0014), before building and running the query that loads the cases.
        if session.execute(_ANY_DUE, {"now": now}).first() is None:
            return 0
        query = (
            select(Case)
            .where(Case.status == "open", Case.next_due_at <= now)
            .order_by(Case.next_due_at)
            .limit(BATCH)
        )
        if not is_sqlite(str(session.get_bind().url)):
            # FOR UPDATE also holds each case's chain for its events (app.audit.log).
            query = query.with_for_update(skip_locked=True)
        cases = session.scalars(query).all()
        advance_all(session, cases, now)
    return len(cases)


_ANY_DUE = (
    select(Case.id)
    .where(Case.status == "open", Case.next_due_at <= bindparam("now", type_=UTCDateTime()))
    .limit(1)
)


def next_due(session: Session) -> datetime | None:
    return session.scalar(select(func.min(Case.next_due_at)).where(Case.status == "open"))
