"""A reporter's first text, the webhook's hot path, in a handful of SQL statements.

Most inbound texts are new reports that open a case and page its first tier. Through the
ORM that took about 26 statements and 5 flushes (ADR 0014, "Webhook"). Here the same rules
run on plain data (the roster cached per process, the pure rules of app.paging and
app.casework.conflicts) and the same rows are written with Core statements built once: one
read (is this reporter's number busy, can it be texted, can every responder), the case
(INSERT ... ON CONFLICT DO NOTHING RETURNING, under a random number), its first text, its
events (one executemany, hash-chained by app.audit.log as always) and its first pages (one
executemany).

Anything unusual is left to the general path (app.casework.intake.open_case and
append_report), which gives the same rows through the ORM: an open or recent case of this
number (a follow-up, flood control), a number texts cannot reach, an emergency word, a
responder named or flagged in the text, a responder SMS cannot reach (paged by call), a
deactivated hotline, nobody to page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, exists, or_, select
from sqlalchemy.orm import Session

from app.audit.log import REPORTER, SYSTEM, chain_started, insert_events, sealed
from app.cases import reporter
from app.cases.models import OPEN_STATES, Case
from app.cases.numbers import insert_numbered_row
from app.cases.report import is_emergency
from app.casework.conflicts import named_by
from app.casework.intake import NEW_CASE_WINDOW, text_stored
from app.event_types import EventType
from app.observe import step_ran
from app.paging import escalation
from app.paging.eligibility import CaseAudience
from app.paging.engine import first_step_clock, roster_snapshot
from app.paging.outbox import enqueue_many, page_key, row
from app.privacy import keys
from app.roster.cache import roster_of
from app.roster.models import Hotline, Responder
from app.wording import page

_case = Case.__table__.c
_responder = Responder.__table__.c
# Whether the number has a case that is open or opened within the flood window (the
# general path decides between a follow-up and flood control), what its latest case says
# about reaching it by text (app.cases.reporter.at_opening), and whether any responder
# of the hotline is unreachable by SMS (rare: the general path pages them by call).
_CHECKS = select(
    exists().where(
        _case.hotline_id == bindparam("hotline_id"),
        _case.reporter_hash == bindparam("reporter_hash"),
        or_(_case.status.in_(OPEN_STATES), _case.opened_at > bindparam("recent_from")),
    ),
    select(_case.reporter_unreachable_reason)
    .where(
        _case.hotline_id == bindparam("hotline_id"),
        _case.reporter_hash == bindparam("reporter_hash"),
    )
    .order_by(_case.id.desc())
    .limit(1)
    .scalar_subquery(),
    exists().where(
        _responder.hotline_id == bindparam("hotline_id"),
        _responder.sms_unreachable_at.is_not(None),
    ),
)


def open_report(
    session: Session, hotline: Hotline, phone: str, body: str, now: datetime
) -> int | None:
    """Open a case for a reporter's text and queue its first tier's pages, in the
    caller's transaction; returns the case number, or None when the text needs the general
    path (nothing was written then)."""
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
    recipients = rule.among(plan.recipients)
    lookup = keys.active().lookup(phone)
    busy, reach, someone_by_call = session.execute(
        _CHECKS,
        {"hotline_id": hotline.id, "reporter_hash": lookup, "recent_from": now - NEW_CASE_WINDOW},
    ).one()
    if busy or reach == reporter.OPTED_OUT or someone_by_call:
        return None

    clock = first_step_clock(policy, now, plan.step)
    case_id = insert_numbered_row(
        session,
        {
            "hotline_id": hotline.id,
            "reporter_phone": phone,
            "reporter_hash": lookup,
            "channel": "sms",
            "status": "open",
            "emergency": False,
            "unroutable": False,
            "opened_at": now,
            "policy": policy,
            **clock,
            "members": members,
            "paging_round": 0,
        },
    )
    chain_started(session, case_id)
    opened = sealed(
        session, case_id=case_id, type=EventType.CASE_OPENED, actor=REPORTER, at=now, channel="sms"
    )
    text = text_stored(session, case_id, body, now, actor=REPORTER)

    pages: list[dict[str, Any]] = []
    for person in recipients:
        pages.append(
            row(
                kind="page",
                case_id=case_id,
                responder_id=person.id,
                step=plan.step,
                dedupe_key=page_key(case_id, person.id, plan.step),
                to_phone=person.phone,
                from_phone=hotline.number,
                body=page(hotline.name, case_id, body, emergency=False, reminder=False),
                now=now,
            )
        )
    step_ran(session, due=now, now=now)
    paged = [roster.names[p.id] for p in recipients]
    events = [
        opened,
        text,
        sealed(
            session,
            case_id=case_id,
            type=EventType.ESCALATED if plan.step > 0 else EventType.PAGING,
            actor=SYSTEM,
            at=now,
            **escalation.step_detail(policy, plan, 0, paged),
        ),
    ]
    if clock["next_due_at"] is None:
        events.append(
            sealed(
                session,
                case_id=case_id,
                type=EventType.ESCALATION_ENDED,
                actor=SYSTEM,
                at=now,
            )
        )
    insert_events(session, events)
    enqueue_many(session, pages)
    return case_id
