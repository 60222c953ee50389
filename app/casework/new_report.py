"""A reporter's first text, the webhook's hot path, in a handful of SQL statements.

Most inbound texts are new reports that open a case and page its first tier. Through the
ORM that took about 26 statements and 5 flushes (ADR 0014, "Webhook"). Here the same rules
run on plain data (the roster cached per process, the pure rules of app.paging and
app.casework.conflicts) and the same rows are written with Core statements built once. The
reports that arrive together (the webhook's group commit, app.db.GroupCommit) are written
together, in as many statements as one: one read (are these reporters' numbers busy, can
they be texted, can every responder), the cases (one multi-row INSERT ... ON CONFLICT DO
NOTHING RETURNING, under random numbers), their first texts, their events (hash-chained by
app.audit.log as always) and their first pages (one executemany each).

Anything unusual is left to the general path (app.casework.intake.open_case and
append_report), which gives the same rows through the ORM: an open or recent case of this
number (a follow-up, flood control), a number texts cannot reach, an emergency word, a
responder named or flagged in the text, a responder SMS cannot reach (paged by call), a
deactivated hotline, nobody to page; and a reporter's second text among the reports given
at once (a follow-up, once the first is written).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, exists, select
from sqlalchemy.orm import Session

from app.audit.log import REPORTER, SYSTEM, chain_started, insert_events, sealed
from app.cases import reporter
from app.cases.models import OPEN_STATES, Case
from app.cases.numbers import insert_numbered_rows
from app.cases.report import is_emergency
from app.casework.conflicts import named_by
from app.casework.intake import NEW_CASE_WINDOW, texts_stored
from app.event_types import EventType
from app.observe import step_ran
from app.paging import escalation
from app.paging.eligibility import CaseAudience
from app.paging.engine import first_step_clock, roster_snapshot
from app.paging.outbox import enqueue_many, page_key, row
from app.privacy import keys
from app.roster.cache import HotlineRow, Roster, roster_of
from app.roster.models import Hotline, Responder
from app.roster.people import Person
from app.wording import page

_case = Case.__table__.c
_hotline = Hotline.__table__.c
_responder = Responder.__table__.c
# Per hotline of the reports: whether any of its responders is unreachable by SMS (rare:
# the general path pages them by call), and every case of the reporters' numbers, from
# which each report's check is read: has its number a case open or opened within the flood
# window (the general path decides between a follow-up and flood control), and what its
# latest case says about reaching it by text (app.cases.reporter.at_opening).
_CHECKS = (
    select(
        _hotline.id.label("hotline_id"),
        exists()
        .where(_responder.hotline_id == _hotline.id, _responder.sms_unreachable_at.is_not(None))
        .label("someone_by_call"),
        _case.reporter_hash,
        _case.id,
        _case.status,
        _case.opened_at,
        _case.reporter_unreachable_reason,
    )
    .select_from(
        Hotline.__table__.outerjoin(
            Case.__table__,
            and_(
                _case.hotline_id == _hotline.id,
                _case.reporter_hash.in_(bindparam("hashes", expanding=True)),
            ),
        )
    )
    .where(_hotline.id.in_(bindparam("hotline_ids", expanding=True)))
)


@dataclass(frozen=True, slots=True)
class NewReport:
    """A reporter's text to a hotline, received `now`."""

    hotline: Hotline | HotlineRow
    phone: str
    body: str
    now: datetime


@dataclass(frozen=True, slots=True)
class _Planned:
    """A report the rules let through, with its first step worked out."""

    report: NewReport
    roster: Roster
    members: list[int]
    plan: escalation.StepPlan
    recipients: list[Person]
    lookup: str  # the reporter's number as stored for lookups (app.privacy.keys)
    clock: dict[str, Any]  # the case's escalation clock once the step is out

    def case_row(self) -> dict[str, Any]:
        """The case's row, but for its number."""
        return {
            "hotline_id": self.report.hotline.id,
            "reporter_phone": self.report.phone,
            "reporter_hash": self.lookup,
            "channel": "sms",
            "status": "open",
            "emergency": False,
            "unroutable": False,
            "opened_at": self.report.now,
            "policy": self.report.hotline.policy,
            **self.clock,
            "members": self.members,
            "paging_round": 0,
        }


def open_report(
    session: Session, hotline: Hotline | HotlineRow, phone: str, body: str, now: datetime
) -> int | None:
    """Open a case for a reporter's text and queue its first tier's pages, in the
    caller's transaction; returns the case number, or None when the text needs the general
    path (nothing was written then)."""
    return open_reports(session, [NewReport(hotline, phone, body, now)])[0]


def open_reports(session: Session, reports: Sequence[NewReport]) -> list[int | None]:
    """`open_report` for many reports at once, in a handful of statements for all: per
    report, in order, its case number or None (the general path's, nothing written)."""
    planned: list[tuple[int, _Planned]] = []
    seen: set[tuple[int, str]] = set()
    for at, report in enumerate(reports):
        first = (report.hotline.id, report.phone) not in seen
        seen.add((report.hotline.id, report.phone))
        if first and (ready := _planned(session, report)) is not None:
            planned.append((at, ready))
    planned = _clear(session, planned)
    opened: list[int | None] = [None] * len(reports)
    if not planned:
        return opened
    case_ids = insert_numbered_rows(session, [p.case_row() for _, p in planned])
    cases = list(zip(case_ids, planned, strict=True))
    openings = []
    for case_id, (_, p) in cases:
        chain_started(session, case_id)
        openings.append(
            sealed(
                session,
                case_id=case_id,
                type=EventType.CASE_OPENED,
                actor=REPORTER,
                at=p.report.now,
                channel="sms",
            )
        )
    texts = texts_stored(
        session, [(case_id, p.report.body, p.report.now, REPORTER) for case_id, (_, p) in cases]
    )
    events: list[dict[str, Any]] = []
    pages: list[dict[str, Any]] = []
    for (case_id, (at, p)), opening, text in zip(cases, openings, texts, strict=True):
        events += [opening, text, *_first_step(session, case_id, p)]
        pages += _pages(case_id, p)
        opened[at] = case_id
    insert_events(session, events)
    enqueue_many(session, pages)
    return opened


def _planned(session: Session, report: NewReport) -> _Planned | None:
    """The report's first step, when nothing in its text or roster needs the general path."""
    hotline, phone, body, now = report.hotline, report.phone, report.body, report.now
    if not hotline.active or is_emergency(body) or reporter.reason_for_address(phone):
        return None
    roster = roster_of(session, hotline)
    if phone in roster.active_by_phone or any(named_by(roster, phone, [body])):
        return None
    policy = hotline.policy
    if escalation.step_count(policy) == 0:
        return None
    members = roster_snapshot(session, hotline)
    rule = CaseAudience(roster.people, frozenset(), phone, frozenset(members))
    plan = escalation.plan_step(policy, 0, rule, roster.spans, now)
    if plan.unroutable:
        return None
    return _Planned(
        report,
        roster,
        members,
        plan,
        rule.among(plan.recipients),
        keys.active().lookup(phone),
        first_step_clock(policy, now, plan.step),
    )


def _clear(session: Session, planned: list[tuple[int, _Planned]]) -> list[tuple[int, _Planned]]:
    """The planned reports whose numbers are free to open a case, checked in one read."""
    if not planned:
        return planned
    by_call: set[int] = set()
    cases: dict[tuple[int, str], list[Any]] = defaultdict(list)
    for found in session.execute(
        _CHECKS,
        {
            "hashes": sorted({p.lookup for _, p in planned}),
            "hotline_ids": sorted({p.report.hotline.id for _, p in planned}),
        },
    ):
        if found.someone_by_call:
            by_call.add(found.hotline_id)
        if found.id is not None:
            cases[(found.hotline_id, found.reporter_hash)].append(found)

    def clear(p: _Planned) -> bool:
        mine = cases[(p.report.hotline.id, p.lookup)]
        recent_from = p.report.now - NEW_CASE_WINDOW
        busy = any(c.status in OPEN_STATES or c.opened_at > recent_from for c in mine)
        latest = max(mine, key=lambda c: c.id).reporter_unreachable_reason if mine else None
        return not (busy or latest == reporter.OPTED_OUT or p.report.hotline.id in by_call)

    return [(at, p) for at, p in planned if clear(p)]


def _first_step(session: Session, case_id: int, p: _Planned) -> list[dict[str, Any]]:
    """The events of the case's first step, in chain order after its opening and text."""
    policy, now = p.report.hotline.policy, p.report.now
    step_ran(session, due=now, now=now)
    paged = [p.roster.names[person.id] for person in p.recipients]
    events = [
        sealed(
            session,
            case_id=case_id,
            type=EventType.ESCALATED if p.plan.step > 0 else EventType.PAGING,
            actor=SYSTEM,
            at=now,
            **escalation.step_detail(policy, p.plan, 0, paged),
        ),
    ]
    if p.clock["next_due_at"] is None:
        events.append(
            sealed(
                session,
                case_id=case_id,
                type=EventType.ESCALATION_ENDED,
                actor=SYSTEM,
                at=now,
            )
        )
    return events


def _pages(case_id: int, p: _Planned) -> list[dict[str, Any]]:
    hotline = p.report.hotline
    return [
        row(
            kind="page",
            case_id=case_id,
            responder_id=person.id,
            step=p.plan.step,
            dedupe_key=page_key(case_id, person.id, p.plan.step),
            to_phone=person.phone,
            from_phone=hotline.number,
            body=page(hotline.name, case_id, p.report.body, emergency=False, reminder=False),
            now=p.report.now,
        )
        for person in p.recipients
    ]
